"""The accounts pages (server-rendered, no JavaScript): sign-in, sign-out, statistics, exports."""

import functools
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from rest_framework.exceptions import ValidationError

from accounts.exports import export_text_lines, export_xlsx_file
from accounts.models import RegistrationOutcome
from accounts.selectors import (
    CHART_DAYS,
    DayCounts,
    LogReader,
    registration_request_filters,
    registration_request_list,
    registration_request_views,
    registration_requests_per_day,
    registration_stats,
)
from accounts.services import registration_spool_counts, set_aside_dir

logger = logging.getLogger(__name__)
DEFAULT_CHART_DAYS = 30
RECENT_PER_PAGE = 25
OUTCOME_COLOURS = {
    RegistrationOutcome.CREATED: "#2e7d32",
    RegistrationOutcome.REJECTED: "#f9a825",
    RegistrationOutcome.CONFLICT: "#ef6c00",
    RegistrationOutcome.MALFORMED: "#8e24aa",
    RegistrationOutcome.THROTTLED: "#1e88e5",
    RegistrationOutcome.UNAVAILABLE: "#c62828",
    RegistrationOutcome.ERROR: "#6d4c41",
}


class LoginView(auth_views.LoginView):
    """Django's sign-in form; django-axes refuses an address that keeps guessing passwords
    (accounts.lockout)."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST signs out (Django's rule: a link must not sign anyone out); GET asks first."""

    http_method_names = ["get", "head", "post", "options"]
    template_name = "accounts/logout.html"

    def get(self, request, *args, **kwargs):
        return render(request, self.template_name)


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Chart:
    """A stacked bar chart of requests per day by outcome, laid out for inline SVG."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    plot_left: int
    bars: list[Bar]
    gridlines: list[tuple[float, int]]  # (y, value)
    labels: list[tuple[float, str]]  # (x, day)
    maximum: int
    days: int

    @classmethod
    def build(cls, per_day: list[DayCounts], *, width: int = 960, height: int = 280) -> "Chart":
        left, right, top, bottom = 48, 12, 12, height - 36
        plot_width = width - left - right
        plot_height = bottom - top
        maximum = max((day.total for day in per_day), default=0)
        scale_max = _nice_ceiling(maximum)
        slot = plot_width / max(len(per_day), 1)
        bar_width = max(slot * 0.75, 1)
        bars, labels = [], []
        label_every = max(1, round(len(per_day) / 10))
        for index, day in enumerate(per_day):
            x = left + index * slot + (slot - bar_width) / 2
            y = bottom
            for outcome in RegistrationOutcome.values:
                count = day.counts.get(outcome, 0)
                if not count:
                    continue
                bar_height = count / scale_max * plot_height
                y -= bar_height
                bars.append(
                    Bar(
                        x=round(x, 2),
                        y=round(y, 2),
                        width=round(bar_width, 2),
                        height=round(bar_height, 2),
                        colour=OUTCOME_COLOURS[outcome],
                        title=f"{day.day:%Y-%m-%d}: {count} {RegistrationOutcome(outcome).label.lower()}",
                    )
                )
            if index % label_every == 0:
                labels.append((round(left + index * slot + slot / 2, 2), f"{day.day:%d.%m}"))
        gridlines = [(round(bottom - plot_height * step / 4, 2), round(scale_max * step / 4)) for step in range(5)]
        return cls(
            width=width,
            height=height,
            plot_top=top,
            plot_bottom=bottom,
            plot_left=left,
            bars=bars,
            gridlines=gridlines,
            labels=labels,
            maximum=maximum,
            days=len(per_day),
        )


def _nice_ceiling(value: int) -> int:
    """The smallest of 4, 8, 20, 40, 80, 200, ... at least `value`: gridlines at quarters stay whole."""
    if value <= 4:
        return 4
    magnitude = 1
    while True:
        for step in (4, 8, 20):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def readable_page(view):
    """GET and HEAD read the page; OPTIONS says so (DESIGN.md §4); anything else is a 405."""

    safe_view = require_safe(view)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(b"", content_type="text/plain")
            response["Allow"] = "GET, HEAD, OPTIONS"
            return response
        return safe_view(request, *args, **kwargs)

    return wrapper


@never_cache
@login_required
@readable_page
def stats_view(request: HttpRequest) -> HttpResponse:
    reader = LogReader.of(request.user)
    try:
        filters = registration_request_filters(request.GET)
        filter_errors = {}
    except ValidationError as exc:  # a bad filter is a 400, as in the API; the page still shows the totals
        filters, filter_errors = {}, exc.detail
    days = filters.get("days") or DEFAULT_CHART_DAYS
    outcome = filters.get("outcome") or ""
    entries = registration_request_list(filters={"outcome": outcome})
    page = Paginator(entries, RECENT_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = registration_request_views(page.object_list, reader=reader)
    stats = registration_stats()
    outcomes = [
        {"value": value, "label": label, "colour": OUTCOME_COLOURS[value], "count": stats.by_outcome.get(value, 0)}
        for value, label in RegistrationOutcome.choices
    ]
    context = {
        "stats": stats,
        "outcomes": outcomes,
        "chart": Chart.build(registration_requests_per_day(days=days)),
        "chart_days": CHART_DAYS,
        "days": days,
        "outcome": outcome,
        "page": page,
        "now": timezone.localtime(),
        "sees_everything": reader.sees_everything,
        "filter_errors": filter_errors,
    }
    if reader.sees_everything:
        context["spool"] = registration_spool_counts()
        context["spool_dir"] = settings.USERADD_LOG_SPOOL_DIR
        context["set_aside_dir"] = set_aside_dir()
    return render(request, "accounts/stats.html", context, status=400 if filter_errors else 200)


def _export_name(extension: str) -> str:
    return f"r4c-useradd-log-{timezone.localtime():%Y%m%d-%H%M%S}.{extension}"


@never_cache
@login_required
@readable_page
def export_txt_view(request: HttpRequest) -> StreamingHttpResponse:
    reader = LogReader.of(request.user)
    response = StreamingHttpResponse(export_text_lines(reader=reader), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_export_name("txt")}"'
    return response


@never_cache
@login_required
@readable_page
def export_xlsx_view(request: HttpRequest) -> FileResponse:
    return FileResponse(
        export_xlsx_file(reader=LogReader.of(request.user)),
        as_attachment=True,
        filename=_export_name("xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
