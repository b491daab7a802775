"""Admin pieces every app shares: idempotency keys, and the one action that retries failed jobs."""

from django.contrib import admin, messages

from core.jobs import FAILED, Job
from core.models import IdempotencyKey


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "owner", "response_status", "created_at", "expires_at")
    search_fields = ("key",)
    readonly_fields = [field.name for field in IdempotencyKey._meta.fields]


class JobAdmin(admin.ModelAdmin):
    """The admin of a job model (core.jobs): read only, with the action that gives the selected
    failed rows a fresh set of attempts through the app's service (`retry_job`)."""

    actions = ["retry"]

    def retry_job(self, job: Job) -> bool:
        """The app's retry service for one job; True when it was queued again."""
        raise NotImplementedError

    @admin.action(description="Try the selected failed %(verbose_name_plural)s again")
    def retry(self, request, queryset) -> None:
        count = sum(bool(self.retry_job(job)) for job in queryset.filter(status=FAILED))
        self.message_user(request, f"{count} {self.model._meta.verbose_name}(s) queued again.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False
