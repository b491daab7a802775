from django.apps import AppConfig


class RegistrationsConfig(AppConfig):
    name = "registrations"
    verbose_name = "Registrations"

    def ready(self) -> None:
        import contextlib

        from core.metrics import extra_registry
        from registrations.metrics import RegistrationRequestSpoolCollector

        with contextlib.suppress(ValueError):  # already registered (ready() ran twice)
            extra_registry.register(RegistrationRequestSpoolCollector())
