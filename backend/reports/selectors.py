"""Report reads: production counts for a period, stored reports."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet

from core.filters import filterset_apply
from core.selectors import get_or_404
from reports.filters import ReportFilter
from reports.models import Report
from robots.selectors import robot_list


@dataclass(frozen=True)
class ModelVersionCount:
    model: str
    version: str
    count: int


def weekly_counts(*, since: datetime, until: datetime) -> list[ModelVersionCount]:
    """Robots produced in [since, until) per model and version, ordered by model then version.

    One aggregate query, answered from the covering index on `created` (no heap access once
    the table is vacuumed): its cost grows with the robots in the period, its result with
    the model-versions only. `Count("*")` keeps the primary key out of the query.
    """
    rows = (
        robot_list()
        .filter(created__gte=since, created__lt=until)
        .order_by()
        .values_list("model", "version")
        .annotate(count=Count("*"))
        .order_by("model", "version")
    )
    return [ModelVersionCount(model=model, version=version, count=count) for model, version, count in rows]


def report_list(*, filters: Mapping | None = None) -> QuerySet[Report]:
    """Stored reports, newest first, with who asked for them; `filters` (e.g. the query
    parameters) go through ReportFilter, so a bad value raises a ValidationError (a 400)."""
    queryset = Report.objects.select_related("requested_by")
    if filters is not None:
        queryset = filterset_apply(ReportFilter, filters, queryset)
    return queryset


def report_get(*, report_id: int) -> Report:
    return get_or_404(Report.objects.all(), pk=report_id)
