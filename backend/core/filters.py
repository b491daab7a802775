"""Filters of the API's lists and statistics: django-filter FilterSets, with the one datetime
parser (core.guards) and strict whole numbers, and one way to run them: inside the selectors
(`filterset_apply`, a bad value is a 400); views name their FilterSet for the schema only."""

import re

import django_filters
from django import forms
from django.core.validators import EMPTY_VALUES
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.guards import DATETIME_FORMATS_TEXT, DEFAULT_YEARS, DateTimeInputError, YearRange, parse_datetime_input

MAX_ID = 2**63 - 1  # PostgreSQL's bigint
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")


class DateTimeInputFormField(forms.Field):
    def __init__(self, *, years: YearRange = DEFAULT_YEARS, **kwargs):
        self.years = years
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in EMPTY_VALUES:
            return None
        try:
            return parse_datetime_input(value, years=self.years)
        except DateTimeInputError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


class DateTimeInputFilter(django_filters.IsoDateTimeFilter):
    """A datetime filter value in the API's documented forms (core.guards.parse_datetime_input)."""

    field_class = DateTimeInputFormField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("help_text", f"{DATETIME_FORMATS_TEXT}.")
        super().__init__(*args, **kwargs)


class IdFormField(forms.Field):
    def to_python(self, value):
        if value in EMPTY_VALUES:
            return None
        if not isinstance(value, str) or not _WHOLE_NUMBER.fullmatch(value) or int(value) > MAX_ID:
            # Never Decimal(value): "1e999999999" would be a billion-digit integer to build.
            raise forms.ValidationError("Must be an id: a whole number written in ASCII digits.", code="invalid")
        return int(value)


@extend_schema_field(OpenApiTypes.INT64)
class IdFilter(django_filters.Filter):
    """A row id: ASCII digits within PostgreSQL's bigint, nothing else."""

    field_class = IdFormField


def filterset_apply(filterset_class: type[django_filters.FilterSet], data, queryset: QuerySet) -> QuerySet:
    """`queryset` narrowed by the FilterSet over `data` (e.g. the query parameters);
    raises DRF's ValidationError (a 400 naming each bad filter), as DjangoFilterBackend does."""
    filterset = filterset_class(data=data, queryset=queryset)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return filterset.qs


class FilterSetSchemaBackend(DjangoFilterBackend):
    """The API's filter backend: it documents a list's query parameters from its view's
    `filterset_class` (drf-spectacular reads them as it does DjangoFilterBackend's) and filters
    nothing. The view's selector runs the same FilterSet (`filterset_apply`): one way to filter."""

    def filter_queryset(self, request, queryset, view):
        return queryset
