from django.contrib import admin, messages

from notifications.models import Email, EmailStatus
from notifications.services import email_retry


@admin.register(Email)
class EmailAdmin(admin.ModelAdmin):
    list_display = ("id", "subject", "status", "attempts", "next_attempt_at", "sent_at", "created_at")
    list_filter = ("status",)
    search_fields = ("subject", "dedup_key")
    readonly_fields = [field.name for field in Email._meta.fields]
    actions = ["retry"]

    @admin.action(description="Send the selected failed e-mails again")
    def retry(self, request, queryset):
        failed = list(queryset.filter(status=EmailStatus.FAILED))
        for email in failed:
            email_retry(email=email)
        self.message_user(request, f"{len(failed)} e-mail(s) queued again.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False
