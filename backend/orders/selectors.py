"""Order reads."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from orders.models import Order


def order_list() -> QuerySet[Order]:
    """Every order, newest first, with what the API shows of it in the same query."""
    return Order.objects.select_related("customer")


def order_get(*, order_id: int) -> Order:
    return get_object_or_404(order_list(), pk=order_id)
