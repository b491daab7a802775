from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from reports.models import Report, ReportStatus
from reports.services import report_retry


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "period_start",
        "period_end",
        "status",
        "robots",
        "size",
        "build_seconds",
        "attempts",
        "created_at",
        "download",
    )
    list_filter = ("status", "kind")
    search_fields = ("file_name",)
    date_hierarchy = "created_at"
    list_select_related = ("requested_by",)
    readonly_fields = [field.name for field in Report._meta.fields] + ["download"]
    actions = ["retry"]

    @admin.display(description="File")
    def download(self, report: Report) -> str:
        if report.status != ReportStatus.READY:
            return "—"
        url = reverse("report-download", kwargs={"report_id": report.pk})
        return format_html('<a href="{}">{}</a>', url, report.file_name)

    @admin.action(description="Build the selected failed reports again")
    def retry(self, request, queryset):
        count = sum(report_retry(report=report) for report in queryset.filter(status=ReportStatus.FAILED))
        self.message_user(request, f"{count} report(s) queued again.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
