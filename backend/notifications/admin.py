from django.contrib import admin

from core.admin import JobAdmin
from notifications.models import Email
from notifications.services import email_retry


@admin.register(Email)
class EmailAdmin(JobAdmin):
    list_display = ("id", "subject", "status", "attempts", "next_attempt_at", "sent_at", "created_at")
    list_filter = ("status",)
    search_fields = ("subject", "dedup_key")
    readonly_fields = [field.name for field in Email._meta.fields]

    def retry_job(self, job: Email) -> bool:
        return email_retry(email=job)
