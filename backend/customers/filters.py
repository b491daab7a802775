"""The filters of the customer directory: one FilterSet, run by customers.selectors (a bad value is a 400)."""

import django_filters
from django.core.validators import RegexValidator

from core.phones import PHONE_FORMAT, validate_phone_stored_form
from customers.models import Customer


class CustomerFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(field_name="tag", help_text="Exact tag.")
    operator_code = django_filters.CharFilter(
        field_name="operator_code",
        help_text="Exact operator code, e.g. 912.",
        validators=[RegexValidator(r"\A[0-9]{3}\Z", "An operator code is 3 digits.")],
    )
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    phone_number = django_filters.CharFilter(
        field_name="phone_number",
        help_text=PHONE_FORMAT,
        validators=[validate_phone_stored_form],
    )

    class Meta:
        model = Customer
        fields = ["tag", "operator_code", "email", "phone_number"]
