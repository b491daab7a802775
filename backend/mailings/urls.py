"""API routes of mailings (under /api/v1/)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from mailings.apis import (
    MailingCancelApi,
    MailingPauseApi,
    MailingResendFailedApi,
    MailingResumeApi,
    MailingStatsApi,
    MailingStatsListApi,
    MailingViewSet,
    MessageViewSet,
)

router = SimpleRouter()
router.register("mailings", MailingViewSet, basename="mailing")
router.register("messages", MessageViewSet, basename="message")

urlpatterns = [
    path("mailings/stats/", MailingStatsListApi.as_view(), name="mailing-stats-list"),
    path("mailings/<int:id>/stats/", MailingStatsApi.as_view(), name="mailing-stats"),
    path("mailings/<int:id>/cancel/", MailingCancelApi.as_view(), name="mailing-cancel"),
    path("mailings/<int:id>/pause/", MailingPauseApi.as_view(), name="mailing-pause"),
    path("mailings/<int:id>/resume/", MailingResumeApi.as_view(), name="mailing-resume"),
    path("mailings/<int:id>/resend-failed/", MailingResendFailedApi.as_view(), name="mailing-resend-failed"),
    *router.urls,
]
