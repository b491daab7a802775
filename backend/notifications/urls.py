"""API routes of notifications (under /api/v1/)."""

urlpatterns: list = []
