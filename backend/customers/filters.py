"""The filters of the customer directory: one FilterSet, run by customers.selectors (a bad value is a 400)."""

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Value
from django.db.models.functions import Lower

from core.phones import phone_normalize
from customers.models import Customer


class PhoneField(forms.CharField):
    """A phone written as people write it (core.phones), cleaned to the stored 7XXXXXXXXXX:
    the filter takes what the customers API takes."""

    def clean(self, value):
        value = super().clean(value)
        return phone_normalize(value) if value else value


class PhoneFilter(django_filters.CharFilter):
    field_class = PhoneField


class CustomerFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(field_name="tag", help_text="Exact tag.")
    operator_code = django_filters.CharFilter(
        field_name="operator_code",
        help_text="Exact operator code, e.g. 912.",
        validators=[RegexValidator(r"\A[0-9]{3}\Z", "An operator code is 3 digits.")],
    )
    email = django_filters.CharFilter(
        method="filter_email", help_text="The e-mail address, in any case (as uniqueness compares it)."
    )
    phone_number = PhoneFilter(
        field_name="phone_number", help_text="The phone, written in any usual way: +7 (912) 345-67-89, 79123456789."
    )

    class Meta:
        model = Customer
        fields = ["tag", "operator_code", "email", "phone_number"]

    def filter_email(self, queryset, name, value):
        # lower() on both sides, in PostgreSQL: the very comparison of the unique constraint
        # customer_email_unique_case_insensitive (UPPER, Django's iexact, differs for some letters).
        return queryset.alias(email_lower=Lower("email")).filter(email_lower=Lower(Value(value)))
