"""Report reads: production counts for a period, stored reports."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from reports.models import Report
from robots.models import Robot


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
        Robot.objects.filter(created__gte=since, created__lt=until)
        .order_by()
        .values_list("model", "version")
        .annotate(count=Count("*"))
        .order_by("model", "version")
    )
    return [ModelVersionCount(model=model, version=version, count=count) for model, version, count in rows]


def report_list() -> QuerySet[Report]:
    return Report.objects.all()


def report_get(*, report_id: int) -> Report:
    return get_object_or_404(Report, pk=report_id)
