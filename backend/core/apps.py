from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from celery.signals import task_postrun, task_prerun

        from core import metrics  # noqa: F401  (connects the Celery task-outcome signals)
        from core.logging import bind_task_id, unbind_task_id

        task_prerun.connect(bind_task_id, dispatch_uid="core.bind_task_id")
        task_postrun.connect(unbind_task_id, dispatch_uid="core.unbind_task_id")
