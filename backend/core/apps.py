from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        import logging

        from celery.signals import task_postrun, task_prerun

        from core.guards import ControlCharacterLogFilter

        # Django logs the path of every 4xx/5xx request, and a message may quote any input:
        # no log line carries a control character, whatever logger wrote it (core.guards).
        for handler in logging.getLogger().handlers:
            handler.addFilter(ControlCharacterLogFilter())

        from core import metrics  # noqa: F401  (connects the Celery task-outcome signals)
        from core.logging import bind_task_id, unbind_task_id

        task_prerun.connect(bind_task_id, dispatch_uid="core.bind_task_id")
        task_postrun.connect(unbind_task_id, dispatch_uid="core.unbind_task_id")
