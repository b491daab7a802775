"""Order reads, and the stock: robots produced (robots' selector) less those orders reserve."""

from collections.abc import Mapping

from django.db.models import Count, F, QuerySet

from core.filters import filterset_apply
from core.selectors import get_or_404
from orders.filters import OrderFilter
from orders.models import Order, OrderStatus
from robots.selectors import robot_list


def order_list(*, filters: Mapping | None = None) -> QuerySet[Order]:
    """Orders, newest first, with what the API shows of them in the same query; `filters` (e.g.
    the query parameters) go through OrderFilter, so a bad value raises a ValidationError (a 400)."""
    queryset = Order.objects.select_related("customer")
    if filters is not None:
        queryset = filterset_apply(OrderFilter, filters, queryset)
    return queryset


def order_get(*, order_id: int) -> Order:
    return get_or_404(order_list(), pk=order_id)


def stock_list() -> QuerySet:
    """Per serial: robots produced, reserved for orders (a notified order holds its robot), and
    available; one aggregate over the robots and the orders' one-to-one link to them."""
    return (
        robot_list()
        .values("serial", "model", "version")
        .annotate(produced=Count("id"), reserved=Count("order"))
        .annotate(available=F("produced") - F("reserved"))
        .order_by("serial")
    )


def order_waiting_counts() -> list[tuple[str, int]]:
    """(serial, orders waiting for a robot of it), by serial; serials nobody waits for are left
    out. One aggregate query, answered from the partial index of the waiting orders."""
    return list(
        Order.objects.filter(status=OrderStatus.WAITING)
        .order_by("robot_serial")
        .values_list("robot_serial")
        .annotate(count=Count("id"))
    )
