"""Reads every app shares: the one way to find an object or answer 404."""

from django.db.models import Model, QuerySet
from django.http import Http404


def get_or_404(queryset: QuerySet, **lookups) -> Model:
    """The one object of `queryset` matching `lookups`; raises Http404 (the API's 404, in the
    one error shape: core.exceptions) when there is none."""
    found = queryset.filter(**lookups).first()
    if found is None:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.")
    return found
