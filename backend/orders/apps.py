from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from core import events
        from orders.services import robots_produced_allocate
        from robots.events import RobotsProduced

        # Allocation runs in the ingest transaction, under its per-serial lock (core.events).
        events.subscribe(RobotsProduced, robots_produced_allocate)
