"""Order reads, and the stock: robots produced (robots' selector) less those orders reserve."""

from django.db.models import Count, F, QuerySet
from django.shortcuts import get_object_or_404

from orders.models import Order
from robots.selectors import robot_list


def order_list() -> QuerySet[Order]:
    """Every order, newest first, with what the API shows of it in the same query."""
    return Order.objects.select_related("customer")


def order_get(*, order_id: int) -> Order:
    return get_object_or_404(order_list(), pk=order_id)


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
