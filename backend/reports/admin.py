from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import JobAdmin
from reports.models import Report, ReportStatus
from reports.services import report_retry


@admin.register(Report)
class ReportAdmin(JobAdmin):
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

    @admin.display(description="File")
    def download(self, report: Report) -> str:
        if report.status != ReportStatus.READY:
            return "—"
        url = reverse("report-download", kwargs={"id": report.pk})
        return format_html('<a href="{}">{}</a>', url, report.file_name)

    def retry_job(self, job: Report) -> bool:
        return report_retry(report=job)

    def has_change_permission(self, request, obj=None) -> bool:
        return False
