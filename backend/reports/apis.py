"""Report APIs for managers: the weekly workbook now, stored reports (ask, list, poll, download)."""

from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ApplicationError
from core.fields import DateTimeInputField
from core.idempotency import idempotent
from core.roles import Role
from reports import selectors, services
from reports.filters import ReportFilter
from reports.models import Report, ReportStatus
from reports.workbook import weekly_workbook_temporary_file

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_EXAMPLE = {
    "id": 17,
    "kind": "nightly",
    "status": "ready",
    "period_start": "2026-11-16T00:00:00+03:00",
    "period_end": "2026-11-23T00:00:00+03:00",
    "file_name": "weekly-report_2026-11-16_2026-11-22.xlsx",
    "size": 7342,
    "sha256": "9f2c…",
    "robots": 1234,
    "build_seconds": 0.081,
    "attempts": 1,
    "error": "",
    "email_managers": True,
    "requested_by": None,
    "created_at": "2026-11-23T00:30:00+03:00",
    "finished_at": "2026-11-23T00:30:01+03:00",
    "download_url": "/api/v1/reports/17/download/",
}
FILE_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.BINARY, description=f"The workbook ({XLSX}), as an attachment with a dated file name."
)


class FileDownloadMixin:
    """A file view answers errors in JSON whatever the client's Accept header asks for."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class ReportOutputSerializer(serializers.ModelSerializer):
    error = serializers.CharField(source="last_error")
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id",
            "kind",
            "status",
            "period_start",
            "period_end",
            "file_name",
            "size",
            "sha256",
            "robots",
            "build_seconds",
            "attempts",
            "error",
            "email_managers",
            "requested_by",
            "created_at",
            "finished_at",
            "download_url",
        ]

    def get_download_url(self, report: Report) -> str | None:
        if report.status != ReportStatus.READY:
            return None
        return reverse("report-download", kwargs={"id": report.pk})


class WeeklyReportXlsxApi(FileDownloadMixin, APIView):
    roles = (Role.MANAGER,)

    @extend_schema(
        tags=["reports"],
        summary="The weekly production workbook for the last 7 days up to now, built now",
        description=(
            "One sheet per robot model produced in the period, named by its code, with "
            "«Модель | Версия | Количество за неделю» and a row per version; then a summary sheet "
            "with the total per model and a bar chart. Nothing is stored."
        ),
        responses={(200, XLSX): FILE_RESPONSE},
    )
    def get(self, request):
        since, until = services.last_week_period()
        handle = weekly_workbook_temporary_file(since=since, until=until)
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=services.report_file_name(since=since, until=until),
            content_type=XLSX,
        )
        response["Cache-Control"] = "private, no-store"
        return response


class ReportListCreateApi(ListAPIView):
    roles = (Role.MANAGER,)
    serializer_class = ReportOutputSerializer
    filterset_class = ReportFilter  # for the schema: selectors.report_list runs it

    class InputSerializer(serializers.Serializer):
        since = DateTimeInputField(
            required=False,
            help_text="ISO 8601 or 'YYYY-MM-DD hh:mm:ss' (factory time), years 2000–2100; default: until − 7 days.",
        )
        until = DateTimeInputField(
            required=False,
            help_text="Not included; not in the future; years 2000–2100. Default: now (or since + 7 days).",
        )
        email_managers = serializers.BooleanField(
            required=False, default=False, help_text="Also e-mail the file to MANAGER_EMAILS once built."
        )

    def get_queryset(self):
        return selectors.report_list(filters=self.request.query_params)

    @extend_schema(tags=["reports"], summary="Stored reports, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["reports"],
        summary="Ask for a report to be built now (poll it, then download it)",
        description="Answers 202 at once with the pending report; `Location` is the URL to poll.",
        request=InputSerializer,
        responses={202: ReportOutputSerializer, 409: OpenApiResponse(description="Idempotency-Key reused.")},
        examples=[
            OpenApiExample("The last 7 days", value={}, request_only=True),
            OpenApiExample(
                "A period", value={"since": "2026-11-01 00:00:00", "until": "2026-11-08 00:00:00"}, request_only=True
            ),
            OpenApiExample(
                "Accepted",
                value={**REPORT_EXAMPLE, "kind": "on_demand", "status": "pending", "download_url": None},
                response_only=True,
            ),
        ],
    )
    @idempotent
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = services.report_request(**serializer.validated_data, requested_by=request.user)
        response = Response(ReportOutputSerializer(report).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("report-detail", kwargs={"id": report.pk})
        return response


class ReportDetailApi(APIView):
    roles = (Role.MANAGER,)

    @extend_schema(
        tags=["reports"],
        summary="One stored report (poll until `status` is ready or failed)",
        responses=ReportOutputSerializer,
        examples=[OpenApiExample("Ready", value=REPORT_EXAMPLE)],
    )
    def get(self, request, id: int):
        return Response(ReportOutputSerializer(selectors.report_get(report_id=id)).data)


class ReportDownloadApi(FileDownloadMixin, APIView):
    roles = (Role.MANAGER,)

    @extend_schema(
        tags=["reports"],
        summary="Download a stored report",
        description=(
            "Behind nginx the file is handed over with `X-Accel-Redirect` "
            "(REPORTS_ACCEL_REDIRECT_PREFIX); without it Django sends the file itself."
        ),
        responses={
            (200, XLSX): FILE_RESPONSE,
            409: OpenApiResponse(description="Not built yet (`report_not_ready`) or failed (`report_failed`)."),
            410: OpenApiResponse(description="The file was pruned (`report_expired`) or is missing."),
        },
    )
    def get(self, request, id: int):
        report = selectors.report_get(report_id=id)
        if report.status == ReportStatus.PENDING:
            raise ApplicationError(
                "The report is still being built; poll it and try again.", code="report_not_ready", status_code=409
            )
        if report.status == ReportStatus.FAILED:
            raise ApplicationError(f"The report failed: {report.last_error}", code="report_failed", status_code=409)
        path = services.report_path(report)
        if report.status == ReportStatus.EXPIRED or not path.is_file():
            raise ApplicationError(
                "The report's file is no longer stored; ask for a new report.", code="report_expired", status_code=410
            )
        return stored_file_response(path=path, relative=report.file_path, file_name=report.file_name)


def stored_file_response(*, path: Path, relative: str, file_name: str) -> HttpResponse:
    prefix = settings.REPORTS_ACCEL_REDIRECT_PREFIX
    if prefix:
        # nginx sends the bytes from its internal location; Django only said it may.
        response = HttpResponse(content_type=XLSX)
        response["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{quote(relative)}"
    else:
        response = FileResponse(path.open("rb"), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, file_name)
    response["Cache-Control"] = "private, no-store"
    return response
