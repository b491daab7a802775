"""Customer reads: the directory (filtered by customers.filters), the recipients of a mailing, the imports."""

from collections.abc import Mapping

from django.db.models import QuerySet

from core.filters import filterset_apply
from customers.filters import CustomerFilter
from customers.models import Customer, CustomerImport


def customer_list(*, filters: Mapping | None = None) -> QuerySet[Customer]:
    """Customers by id; `filters` (e.g. the query parameters) go through CustomerFilter, so a
    bad value raises a ValidationError (a 400)."""
    queryset = Customer.objects.order_by("id")
    if filters is not None:
        queryset = filterset_apply(CustomerFilter, filters, queryset)
    return queryset


def mailing_recipients(*, operator_code: str = "", tag: str = "") -> QuerySet:
    """The customers an SMS mailing goes to: every customer with a phone, of `operator_code`
    and with `tag` where given. Rows of (customer id, phone number, time zone), in no order,
    for the mailing to copy into its messages in one statement (mailings.dispatcher)."""
    queryset = Customer.objects.filter(phone_number__isnull=False)
    if operator_code:
        queryset = queryset.filter(operator_code=operator_code)
    if tag:
        queryset = queryset.filter(tag=tag)
    return queryset.order_by().values_list("pk", "phone_number", "timezone")


def customer_import_list() -> QuerySet[CustomerImport]:
    """Customer imports, newest first, with who asked for them."""
    return CustomerImport.objects.select_related("requested_by").order_by("-created_at", "-id")
