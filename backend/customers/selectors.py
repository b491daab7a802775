"""Customer reads."""

from django.db.models import QuerySet

from customers.models import Customer


def customer_list(*, filters: dict | None = None) -> QuerySet[Customer]:
    """Customers, filtered by exact tag, operator code, e-mail (case-insensitive) or phone."""
    filters = filters or {}
    queryset = Customer.objects.all()
    if filters.get("tag") is not None:
        queryset = queryset.filter(tag=filters["tag"])
    if filters.get("operator_code"):
        queryset = queryset.filter(operator_code=filters["operator_code"])
    if filters.get("email"):
        queryset = queryset.filter(email__iexact=filters["email"])
    if filters.get("phone_number"):
        queryset = queryset.filter(phone_number=filters["phone_number"])
    return queryset.order_by("id")
