"""Report reads: production counts for a period and per day, stored reports."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

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


@dataclass(frozen=True)
class DayProduction:
    day: date  # in the factory's TIME_ZONE
    counts: dict[str, int]  # robots produced that day by model code

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def production_per_day(*, days: int, today: date | None = None) -> list[DayProduction]:
    """Robots produced per day and model over the last `days` days, today included, oldest
    first, days without robots included. Days are calendar days in the factory's TIME_ZONE
    (`today` defaults to today there). One aggregate query over the robots of the period."""
    today = today or timezone.localdate()
    first_day = today - timedelta(days=days - 1)
    zone = timezone.get_default_timezone()
    since = datetime.combine(first_day, time.min, tzinfo=zone)
    until = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)
    rows = (
        robot_list()
        .filter(created__gte=since, created__lt=until)
        .order_by()
        .annotate(day=TruncDate("created", tzinfo=zone))
        .values_list("day", "model")
        .annotate(count=Count("*"))
    )
    per_day = {first_day + timedelta(days=offset): {} for offset in range(days)}
    for day, model, count in rows:
        per_day[day][model] = count
    return [DayProduction(day=day, counts=counts) for day, counts in per_day.items()]


def report_latest(*, limit: int) -> list[Report]:
    """The `limit` newest stored reports (any status), newest first."""
    return list(report_list()[:limit])
