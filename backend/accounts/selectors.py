"""Account reads: the useradd request log and its statistics."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Avg, Count, F, Func, Max, Min, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import RegistrationOutcome, RegistrationRequest

EXPORT_FIELDS = [
    "created_at",
    "request_id",
    "method",
    "status_code",
    "outcome",
    "login",
    "email_masked",
    "phone_masked",
    "client_address",
    "duration_ms",
    "error_codes",
    "errors",
    "user_agent",
]


@dataclass
class DayCounts:
    day: date
    counts: dict[str, int]  # by outcome

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class RegistrationStats:
    total: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    by_status: list[tuple[int, int]] = field(default_factory=list)
    by_error: list[tuple[str, int]] = field(default_factory=list)
    average_ms: float | None = None
    first_at: object = None
    last_at: object = None

    @property
    def created(self) -> int:
        return self.by_outcome.get(RegistrationOutcome.CREATED, 0)

    @property
    def success_rate(self) -> float | None:
        return self.created / self.total * 100 if self.total else None


def registration_request_list(*, outcome: str | None = None) -> QuerySet[RegistrationRequest]:
    queryset = RegistrationRequest.objects.order_by("-created_at", "-id")
    if outcome:
        queryset = queryset.filter(outcome=outcome)
    return queryset


def registration_stats() -> RegistrationStats:
    """Totals over the whole log, by outcome, by HTTP status and by error code."""
    log = RegistrationRequest.objects.all()
    summary = log.aggregate(
        total=Count("id"), average_ms=Avg("duration_ms"), first=Min("created_at"), last=Max("created_at")
    )
    by_outcome = dict(log.order_by().values_list("outcome").annotate(n=Count("id")))
    by_status = list(log.order_by("status_code").values_list("status_code").annotate(n=Count("id")))
    by_error = list(
        log.order_by()
        .annotate(code=Func(F("error_codes"), function="unnest"))
        .values_list("code")
        .annotate(n=Count("id"))
        .order_by("-n", "code")
    )
    return RegistrationStats(
        total=summary["total"],
        by_outcome={outcome: by_outcome.get(outcome, 0) for outcome in RegistrationOutcome.values},
        by_status=by_status,
        by_error=by_error,
        average_ms=summary["average_ms"],
        first_at=summary["first"],
        last_at=summary["last"],
    )


def registration_requests_per_day(*, days: int, today: date | None = None) -> list[DayCounts]:
    """Requests per day (in TIME_ZONE) by outcome for the last `days` days, today included; empty days too."""
    today = today or timezone.localdate()
    first_day = today - timedelta(days=days - 1)
    since = timezone.make_aware(timezone.datetime.combine(first_day, timezone.datetime.min.time()))
    rows = (
        RegistrationRequest.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .order_by()
        .values_list("day", "outcome")
        .annotate(n=Count("id"))
    )
    per_day = {first_day + timedelta(days=i): {} for i in range(days)}
    for day, outcome, n in rows:
        if day in per_day:
            per_day[day][outcome] = n
    return [DayCounts(day=day, counts=counts) for day, counts in per_day.items()]


def registration_request_export_rows(*, chunk_size: int = 2000) -> Iterator[tuple]:
    """The whole log, oldest first, as tuples of EXPORT_FIELDS, read from a server-side cursor."""
    return (
        RegistrationRequest.objects.order_by("created_at", "id")
        .values_list(*EXPORT_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
