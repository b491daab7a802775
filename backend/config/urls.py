"""Top-level routes: the API under /api/v1/, its schema and docs, health, metrics, admin, and the
seed-era routes (legacy) at their old paths."""

from django.contrib import admin
from django.urls import include, path

from core.docs import RedocView, SchemaView, SwaggerView

API_APPS = ["accounts", "registrations", "robots", "orders", "customers", "reports", "mailings"]

urlpatterns = [
    path("", include("core.urls")),
    path("", include("accounts.page_urls")),  # /login/, /logout/
    path("", include("registrations.page_urls")),  # /stats/ and its exports
    path("api/v1/", include([path("", include(f"{app}.urls")) for app in API_APPS])),
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
