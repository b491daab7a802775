"""The seed-era routes (DESIGN.md §4 "Seed-era routes"): deprecated aliases of v1 operations.

Each view names its v1 successor and forwards to it (legacy.aliases); the schema of each
operation is the successor's under the legacy names (legacy.schema). Only what the old
routes had and v1 has not is written here: the serial check of /api/create_robot and
/activate_mailing/.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.docs import SwaggerView
from core.parsers import FormParser, JSONParser, MultiPartParser
from legacy.aliases import MAILER_NAMES, DeprecatedMixin, LegacyApi
from mailings.services import mailings_start_due

# Replaced by the successor's operation in legacy.schema; declared so that generating the
# schema needs no guess about a view without a serializer.
COUNTS_EXAMPLE = {"pending": 120, "sent": 0, "failed": 0, "expired": 0, "cancelled": 0, "total": 120}
FORWARDED = extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)


class AddRobotApi(LegacyApi):
    """POST /add_robot/ {"model", "version", "created"}: POST /api/v1/robots/."""

    successor = "robot-list"
    post = FORWARDED(LegacyApi.forward)


class CreateRobotApi(LegacyApi):
    """POST /api/create_robot {"serial"?, "model", "version", "created"}: POST /api/v1/robots/,
    once the serial, which v1 computes, is checked against the model and version."""

    successor = "robot-list"
    checks_input = True
    extra_request_properties = {
        "serial": {"type": "string", "description": "Optional: if given, it must be model-version, e.g. R2-D2."}
    }
    extra_request_example = {"serial": "R2-D2"}
    post = FORWARDED(LegacyApi.forward)

    def check_input(self, data):
        if not isinstance(data, dict) or "serial" not in data:
            return data  # not an object: the successor says what is wrong with it
        data = dict(data)
        serial = data.pop("serial")
        model, version = data.get("model"), data.get("version")
        if isinstance(model, str) and isinstance(version, str) and serial != f"{model}-{version}":
            raise ValidationError({"serial": [f"The serial must be model-version: {model}-{version}."]})
        if not isinstance(serial, str):
            raise ValidationError({"serial": ["The serial must be a string: model-version, e.g. R2-D2."]})
        return data


class WeeklyReportApi(LegacyApi):
    """GET /download/ and GET /api/excel_table: the weekly workbook of GET /api/v1/reports/weekly.xlsx."""

    successor = "report-weekly-xlsx"
    force_json_errors = True
    get = FORWARDED(LegacyApi.forward)


class CreateOrderApi(LegacyApi):
    """POST /create_order/ with form data `email`, `robot-serial`: POST /api/v1/orders/ (which
    takes the shop form's `robot-serial` itself)."""

    successor = "order-list"
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    post = FORWARDED(LegacyApi.forward)


class ClientListApi(LegacyApi):
    """/clients/: the customers (GET /api/v1/customers/, POST /api/v1/customers/)."""

    successor = "customer-list"
    get = post = FORWARDED(LegacyApi.forward)


class ClientDetailApi(LegacyApi):
    """/clients/{id}/: one customer (GET, PUT, PATCH, DELETE /api/v1/customers/{id}/)."""

    successor = "customer-detail"
    detail = True
    get = put = patch = delete = FORWARDED(LegacyApi.forward)


class MailerApi(LegacyApi):
    """The seed mailer's routes: its field and query parameter names translated."""

    names = MAILER_NAMES
    multiline_fields = ("message_text",)  # core.parsers: the SMS text may hold line breaks


class MailingListApi(MailerApi):
    """/mailings/ and /deliveries/: GET and POST /api/v1/mailings/."""

    successor = "mailing-list"
    get = post = FORWARDED(LegacyApi.forward)


class MailingDetailApi(MailerApi):
    """/mailings/{id}/ and /deliveries/{id}/: GET, PUT, PATCH, DELETE /api/v1/mailings/{id}/."""

    successor = "mailing-detail"
    detail = True
    get = put = patch = delete = FORWARDED(LegacyApi.forward)


class MessageListApi(MailerApi):
    """/messages/: GET /api/v1/messages/ (the sender's `client` is v1's `customer`)."""

    successor = "message-list"
    get = FORWARDED(LegacyApi.forward)


class MessageDetailApi(MailerApi):
    """/messages/{id}/: GET /api/v1/messages/{id}/."""

    successor = "message-detail"
    detail = True
    get = FORWARDED(LegacyApi.forward)


class MailingStatisticsApi(MailerApi):
    """/mailings/{id}/statistics/ and /deliveries/{id}/get_detail_statistic/: GET /api/v1/mailings/{id}/stats/."""

    successor = "mailing-stats"
    detail = True
    get = FORWARDED(LegacyApi.forward)


class GeneralStatisticApi(MailerApi):
    """/deliveries/get_general_statistic: GET /api/v1/mailings/stats/."""

    successor = "mailing-stats-list"
    get = FORWARDED(LegacyApi.forward)


class ActivateMailingApi(MailerApi):
    """GET /activate_mailing/: starts every due mailing now (v1 starts them by itself, at
    their start), answering with their statistics. Starting mailings is marketing's, as
    creating one on v1 is."""

    successor = "mailing-list"
    successor_methods = {"GET": "POST"}
    schema_from_successor = False

    class OutputSerializer(serializers.Serializer):
        activated = serializers.IntegerField(help_text="How many mailings were started.")
        results = serializers.ListField(
            child=serializers.DictField(),
            help_text="Each started mailing (legacy names) with its message counts, as in get_general_statistic.",
        )

    @extend_schema(
        tags=["legacy"],
        deprecated=True,
        operation_id="legacy_activate_mailing_get",
        summary="Start every due mailing now (seed-era; v1 starts each at its start_at)",
        description=(
            "Starts the mailings that are still scheduled, whose start has come and whose end has not, "
            "and answers with their statistics."
        ),
        responses={200: OutputSerializer, 403: OpenApiResponse(description="Not a marketing account.")},
        examples=[
            OpenApiExample(
                "One started",
                value={
                    "activated": 1,
                    "results": [
                        {
                            "id": 3,
                            "start_datetime": "2026-12-01T10:00:00+03:00",
                            "end_datetime": "2026-12-01T20:00:00+03:00",
                            "message_text": "Robots are 20% off this week!",
                            "filter_operator_code": "912",
                            "filter_tag": "vip",
                            "send_window_start": None,
                            "send_window_end": None,
                            "status": "running",
                            "started_at": "2026-12-01T10:00:02+03:00",
                            "finished_at": None,
                            "created_at": "2026-11-23T10:00:00+03:00",
                            "updated_at": "2026-12-01T10:00:02+03:00",
                            "counts": COUNTS_EXAMPLE,
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request):
        started = mailings_start_due()
        request._request.GET = request._request.GET.copy()
        request._request.GET.clear()  # the statistics' first page, whatever the query said
        results = []
        for mailing_id in started:
            statistics = self.call_successor(request, "mailing-stats", {"id": mailing_id})
            if statistics.status_code == 200:  # deleted meanwhile: 404, left out
                results.append({**statistics.data["mailing"], "counts": statistics.data["counts"]})
        return Response(self.OutputSerializer({"activated": len(results), "results": results}).data)


class LegacySwaggerView(DeprecatedMixin, SwaggerView):
    """GET /swagger/: the Swagger UI of /docs/."""

    def successor_url(self) -> str:
        return "/docs/"
