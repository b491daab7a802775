from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import metrics  # noqa: F401  (connects the Celery task-outcome signals)
