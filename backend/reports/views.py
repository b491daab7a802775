"""The managers' dashboard page (server-rendered SVG, no JavaScript): /dashboard/."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.pages import role_page
from core.roles import Role
from reports import selectors
from reports.dashboard import (
    DASHBOARD_DAYS,
    LATEST_REPORTS,
    DashboardSources,
    messages_chart,
    production_chart,
    stock_chart,
    waiting_chart,
)
from reports.models import ReportStatus


@role_page(Role.MANAGER)
def dashboard_view(request: HttpRequest, *, sources: DashboardSources) -> HttpResponse:
    """Production per day and model, stock and waiting orders per serial, the latest stored
    reports and the mailings' totals; a fixed number of queries whatever the data."""
    now = timezone.localtime()
    per_day = selectors.production_per_day(days=DASHBOARD_DAYS, today=now.date())
    stock = list(sources.stock())
    waiting = list(sources.waiting_orders())
    message_counts = sources.message_counts()
    context = {
        "now": now,
        "time_zone": settings.TIME_ZONE,
        "days": DASHBOARD_DAYS,
        "production": production_chart(per_day),
        "stock": stock,
        "stock_chart": stock_chart(stock),
        "waiting": waiting,
        "waiting_chart": waiting_chart(waiting),
        "reports": selectors.report_latest(limit=LATEST_REPORTS),
        "ready": ReportStatus.READY,
        "message_counts": message_counts,
        "messages_chart": messages_chart(message_counts),
        "mailing_counts": sources.mailing_counts(),
        "totals": {
            "produced": sum(day.total for day in per_day),
            "available": sum(row["available"] for row in stock),
            "waiting": sum(count for _, count in waiting),
            "messages": message_counts.get("total", 0),
        },
    }
    return render(request, "reports/dashboard.html", context)
