"""API routes of customers (under /api/v1/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from customers import apis

router = SimpleRouter()
router.register("customers", apis.CustomerViewSet, basename="customer")

urlpatterns = [
    path("customers/import/", apis.CustomerImportCreateApi.as_view(), name="customer-import"),
    path("customers/imports/", apis.CustomerImportListApi.as_view(), name="customer-import-list"),
    path("customers/imports/<int:id>/", apis.CustomerImportDetailApi.as_view(), name="customer-import-detail"),
    *router.urls,
]
