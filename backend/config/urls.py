"""Top-level routes: the API under /api/v1/, its schema and docs, health, metrics, admin, the
pages, and the seed-era routes (legacy) at their old paths."""

from django.contrib import admin
from django.urls import include, path

from core.docs import RedocView, SchemaView, SwaggerView
from mailings.selectors import mailing_status_counts, message_counts
from orders.selectors import order_waiting_counts, stock_list
from reports.dashboard import DashboardSources
from reports.views import dashboard_view

# URLs resolve in order, and the production lines' robot POST is the hot path: the API comes
# first, robots first in it (no two apps' paths overlap, so the order changes nothing else).
API_APPS = ["robots", "accounts", "registrations", "orders", "customers", "reports", "mailings"]

# The dashboard belongs to reports, which may not import orders or mailings (DESIGN.md §3): this
# module, which wires every app anyway, hands it their selectors.
DASHBOARD_SOURCES = DashboardSources(
    stock=stock_list,
    waiting_orders=order_waiting_counts,
    message_counts=message_counts,
    mailing_counts=mailing_status_counts,
)

urlpatterns = [
    path("api/v1/", include([path("", include(f"{app}.urls")) for app in API_APPS])),
    path("", include("core.urls")),
    path("", include("accounts.page_urls")),  # /login/, /logout/
    path("", include("registrations.page_urls")),  # /stats/ and its exports
    path("dashboard/", dashboard_view, {"sources": DASHBOARD_SOURCES}, name="dashboard"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file, so the page needs no inline script (CSP).
    path("docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
    path("", include("legacy.urls")),  # deprecated aliases of v1 at the old systems' paths
]

handler400 = "core.exceptions.json_bad_request"
handler404 = "core.exceptions.json_not_found"
handler500 = "core.exceptions.json_server_error"
