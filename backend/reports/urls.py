"""Report routes under /api/v1/."""

from django.urls import path

from reports import apis

urlpatterns = [
    path("reports/weekly.xlsx", apis.WeeklyReportXlsxApi.as_view(), name="report-weekly-xlsx"),
    path("reports/", apis.ReportListCreateApi.as_view(), name="report-list"),
    path("reports/<int:id>/", apis.ReportDetailApi.as_view(), name="report-detail"),
    path("reports/<int:id>/download/", apis.ReportDownloadApi.as_view(), name="report-download"),
]
