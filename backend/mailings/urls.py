"""API routes of mailings (under /api/v1/)."""

urlpatterns: list = []
