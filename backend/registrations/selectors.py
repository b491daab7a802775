"""Registration reads: the registration request log and its statistics, as much of it as the reader may see."""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import django_filters
from django.db.models import Avg, Count, F, Func, Max, Min, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django_filters.utils import translate_validation

from core.filters import filterset_apply
from core.permissions import user_has_role
from core.roles import Role
from registrations.masking import mask_others_login
from registrations.models import RegistrationOutcome, RegistrationRequest

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


# Shown to managers and staff only: where requests come from, and with what software.
RESTRICTED_FIELDS = frozenset({"client_address", "user_agent"})
CHART_DAYS = (7, 30, 90, 365)


@dataclass(frozen=True)
class LogReader:
    """Who reads the request log, and so how much of it they see (least exposure).

    Everyone signed in sees the totals, outcomes, statuses and error codes of every request.
    Managers and staff see everything; other accounts see the logins of their own requests
    (their account's, or asking for their login) and the others' masked like an e-mail
    address, and no client address or user agent.
    """

    user_id: int | None
    username: str
    sees_everything: bool

    @classmethod
    def of(cls, user) -> "LogReader":
        sees_everything = bool(user.is_staff or user.is_superuser or user_has_role(user, (Role.MANAGER,)))
        return cls(user_id=user.pk, username=user.get_username(), sees_everything=sees_everything)

    def login(self, login: str, user_id: int | None) -> str:
        if self.sees_everything or (user_id is not None and user_id == self.user_id):
            return login
        if login and login.casefold() == self.username.casefold():
            return login
        return mask_others_login(login)

    @property
    def export_fields(self) -> list[str]:
        return [name for name in EXPORT_FIELDS if self.sees_everything or name not in RESTRICTED_FIELDS]


@dataclass(frozen=True)
class LogEntryView:
    """One log entry as its reader may see it (client address and user agent empty if not)."""

    created_at: datetime
    request_id: str
    status_code: int
    outcome: str
    login: str
    email_masked: str
    phone_masked: str
    client_address: str
    user_agent: str
    duration_ms: float
    error_codes: list[str]


class RegistrationRequestFilter(django_filters.FilterSet):
    outcome = django_filters.ChoiceFilter(choices=RegistrationOutcome.choices)
    days = django_filters.TypedChoiceFilter(
        choices=[(str(days), str(days)) for days in CHART_DAYS], coerce=int, method="_chart_only"
    )

    class Meta:
        model = RegistrationRequest
        fields = ["outcome"]

    def _chart_only(self, queryset, name, value):
        return queryset  # how many days the chart covers; no filter on the list


def registration_request_filters(data: Mapping) -> dict:
    """The page's filters (`outcome`, `days`), validated: raises DRF's ValidationError on a bad value."""
    filterset = RegistrationRequestFilter(data=data, queryset=RegistrationRequest.objects.none())
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    return filterset.form.cleaned_data


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


def registration_request_list(*, filters: Mapping | None = None) -> QuerySet[RegistrationRequest]:
    """The log, newest first; `filters` (the page's query) go through RegistrationRequestFilter
    (a bad value raises a ValidationError)."""
    queryset = RegistrationRequest.objects.order_by("-created_at", "-id")
    if filters is not None:
        queryset = filterset_apply(RegistrationRequestFilter, filters, queryset)
    return queryset


def registration_request_views(entries: Iterable[RegistrationRequest], *, reader: LogReader) -> list[LogEntryView]:
    """The entries as `reader` may see them."""
    return [
        LogEntryView(
            created_at=entry.created_at,
            request_id=entry.request_id,
            status_code=entry.status_code,
            outcome=entry.outcome,
            login=reader.login(entry.login, entry.user_id),
            email_masked=entry.email_masked,
            phone_masked=entry.phone_masked,
            client_address=entry.client_address if reader.sees_everything else "",
            user_agent=entry.user_agent if reader.sees_everything else "",
            duration_ms=entry.duration_ms,
            error_codes=entry.error_codes,
        )
        for entry in entries
    ]


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


def registration_request_export_rows(*, reader: LogReader, chunk_size: int = 2000) -> Iterator[tuple]:
    """The whole log, oldest first, as tuples of `reader.export_fields` (as much as the reader
    may see), read from a server-side cursor."""
    fields = reader.export_fields
    login_at = fields.index("login")
    rows = (
        RegistrationRequest.objects.order_by("created_at", "id")
        .values_list(*fields, "user_id")
        .iterator(chunk_size=chunk_size)
    )
    for *values, user_id in rows:
        if not reader.sees_everything:
            values[login_at] = reader.login(values[login_at], user_id)
        yield tuple(values)
