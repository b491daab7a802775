import contextlib

from django.apps import AppConfig


class MailingsConfig(AppConfig):
    name = "mailings"
    verbose_name = "Mailings"

    def ready(self) -> None:
        from core.metrics import extra_registry
        from mailings.metrics import GatewayCollector, MailingCollector

        for collector in (MailingCollector(), GatewayCollector()):
            with contextlib.suppress(ValueError):  # already registered (ready() ran twice)
                extra_registry.register(collector)
