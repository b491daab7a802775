"""The registration request log's pages (server-rendered, no JavaScript): statistics and exports."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from rest_framework.exceptions import ValidationError

from core.pages import readable_page
from registrations.charts import OUTCOME_COLOURS, requests_chart
from registrations.exports import export_text_lines, export_xlsx_file
from registrations.models import RegistrationOutcome
from registrations.selectors import (
    CHART_DAYS,
    LogReader,
    registration_request_filters,
    registration_request_list,
    registration_request_views,
    registration_requests_per_day,
    registration_stats,
)
from registrations.services import registration_request_spool_counts, set_aside_dir

DEFAULT_CHART_DAYS = 30
RECENT_PER_PAGE = 25


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
    # A page's forgiving paging (Django's get_page: anything unreadable is the first page), but
    # in ASCII digits only: int() would read "٢" as 2 (DESIGN.md §4).
    page_number = request.GET.get("page", "")
    page = Paginator(entries, RECENT_PER_PAGE).get_page(page_number if page_number.isascii() else None)
    page.object_list = registration_request_views(page.object_list, reader=reader)
    stats = registration_stats()
    outcomes = [
        {"value": value, "label": label, "colour": OUTCOME_COLOURS[value], "count": stats.by_outcome.get(value, 0)}
        for value, label in RegistrationOutcome.choices
    ]
    context = {
        "stats": stats,
        "outcomes": outcomes,
        "chart": requests_chart(registration_requests_per_day(days=days)),
        "chart_days": CHART_DAYS,
        "days": days,
        "outcome": outcome,
        "page": page,
        "now": timezone.localtime(),
        "sees_everything": reader.sees_everything,
        "filter_errors": filter_errors,
    }
    if reader.sees_everything:
        context["spool"] = registration_request_spool_counts()
        context["spool_dir"] = settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR
        context["set_aside_dir"] = set_aside_dir()
    return render(request, "registrations/stats.html", context, status=400 if filter_errors else 200)


def _export_name(extension: str) -> str:
    return f"r4c-registration-request-log-{timezone.localtime():%Y%m%d-%H%M%S}.{extension}"


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
