"""API routes of customers (under /api/v1/)."""

urlpatterns: list = []
