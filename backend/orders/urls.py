"""API routes of orders (under /api/v1/)."""

urlpatterns: list = []
