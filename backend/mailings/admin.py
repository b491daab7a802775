"""Admin: mailings with live counts by status and the campaign controls (cancel, pause,
resume), messages filterable by status (read only)."""

from functools import partial

from django.contrib import admin, messages

from core.exceptions import ApplicationError
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.selectors import message_count_annotations
from mailings.services import PAUSABLE, mailing_cancel, mailing_pause, mailing_resume


@admin.register(Mailing)
class MailingAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "paused_reason",
        "start_at",
        "end_at",
        "filter_operator_code",
        "filter_tag",
        "n_total",
        "n_pending",
        "n_sent",
        "n_failed",
        "n_expired",
        "n_cancelled",
    )
    list_filter = ("status",)
    search_fields = ("text", "filter_tag")
    readonly_fields = (
        "status",
        "paused_reason",
        "started_at",
        "finished_at",
        "dispatched_at",
        "deleted_at",
        "created_at",
        "updated_at",
    )
    exclude = ("recent_answers",)  # the dispatcher's bookkeeping
    actions = ["cancel", "pause", "resume"]

    def get_queryset(self, request):
        # Deleted mailings too (the API hides them): the admin sees everything.
        return super().get_queryset(request).annotate(**message_count_annotations())

    def _count(status):
        def count(self, obj) -> int:
            return getattr(obj, f"n_{status}")

        count.short_description = status
        count.admin_order_field = f"n_{status}"
        return count

    n_total = _count("total")
    n_pending = _count(MessageStatus.PENDING)
    n_sent = _count(MessageStatus.SENT)
    n_failed = _count(MessageStatus.FAILED)
    n_expired = _count(MessageStatus.EXPIRED)
    n_cancelled = _count(MessageStatus.CANCELLED)

    def _apply(self, request, queryset, service, statuses) -> None:
        """Calls `service(mailing_id=...)` for each selected mailing in one of `statuses`; a
        mailing that changed meanwhile is reported, not raised."""
        for mailing in queryset.filter(status__in=statuses):
            try:
                service(mailing_id=mailing.pk)
            except ApplicationError as exc:
                self.message_user(request, f"#{mailing.pk}: {exc.detail}", messages.WARNING)

    @admin.action(description="Cancel the selected mailings (pending messages stop)")
    def cancel(self, request, queryset):
        self._apply(request, queryset, mailing_cancel, [*PAUSABLE, MailingStatus.PAUSED])

    @admin.action(description="Pause the selected mailings (nothing is sent until resumed)")
    def pause(self, request, queryset):
        self._apply(request, queryset, partial(mailing_pause, reason="Paused in the admin."), PAUSABLE)

    @admin.action(description="Resume the selected paused mailings")
    def resume(self, request, queryset):
        self._apply(request, queryset, mailing_resume, [MailingStatus.PAUSED])


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "mailing", "phone_number", "status", "attempts", "last_error", "sent_at", "next_attempt_at")
    list_filter = ("status",)
    search_fields = ("phone_number",)
    list_select_related = ("mailing",)
    raw_id_fields = ("mailing", "customer")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
