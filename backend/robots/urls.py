"""API routes of robots (under /api/v1/)."""

urlpatterns: list = []
