"""The filters of the order list: one FilterSet, run by orders.selectors (a bad value is a 400)."""

import django_filters
from django.core.validators import RegexValidator

from orders.models import Order, OrderStatus

SERIAL_PATTERN = r"\A[A-Za-z0-9]{2}-[A-Za-z0-9]{2}\Z"


class OrderFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(field_name="customer__email", lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    robot_serial = django_filters.CharFilter(
        help_text="Model-version, e.g. R2-D2.", validators=[RegexValidator(SERIAL_PATTERN, "A serial is like R2-D2.")]
    )

    class Meta:
        model = Order
        fields = ["email", "status", "robot_serial"]
