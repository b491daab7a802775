"""Mailing APIs (marketing; managers read): mailings, their cancel, pause, resume and resend,
their statistics, messages."""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.fields import DateTimeInputField, TimeInputField
from core.pagination import Pagination
from core.roles import Role
from core.schema import ERROR_SCHEMA
from core.viewsets import ServiceModelViewSet
from mailings import selectors
from mailings.filters import MailingFilter, MessageFilter
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.services import (
    mailing_cancel,
    mailing_create,
    mailing_delete,
    mailing_pause,
    mailing_resend_failed,
    mailing_resume,
    mailing_update,
)

WRITERS = (Role.MARKETING,)
READERS = (Role.MARKETING, Role.MANAGER)
ROLES = {"GET": READERS, "POST": WRITERS, "PUT": WRITERS, "PATCH": WRITERS, "DELETE": WRITERS}

MAILING_EXAMPLE = {
    "id": 3,
    "start_at": "2026-12-01T10:00:00+03:00",
    "end_at": "2026-12-01T20:00:00+03:00",
    "text": "Robots are 20% off this week!",
    "filter_operator_code": "912",
    "filter_tag": "vip",
    "send_window_start": "09:00",
    "send_window_end": "21:00",
    "error_threshold_percent": 20,
    "status": "scheduled",
    "paused_reason": "",
    "started_at": None,
    "finished_at": None,
    "created_at": "2026-11-23T10:00:00+03:00",
    "updated_at": "2026-11-23T10:00:00+03:00",
}
COUNTS_EXAMPLE = {"pending": 0, "sent": 980, "failed": 5, "expired": 15, "cancelled": 0, "total": 1000}


class MailingOutputSerializer(serializers.ModelSerializer):
    send_window_start = serializers.TimeField(format="%H:%M", allow_null=True)
    send_window_end = serializers.TimeField(format="%H:%M", allow_null=True)

    class Meta:
        model = Mailing
        fields = [
            "id",
            "start_at",
            "end_at",
            "text",
            "filter_operator_code",
            "filter_tag",
            "send_window_start",
            "send_window_end",
            "error_threshold_percent",
            "status",
            "paused_reason",
            "started_at",
            "finished_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MailingInputSerializer(serializers.Serializer):
    start_at = DateTimeInputField()
    end_at = DateTimeInputField()
    text = serializers.CharField(
        max_length=1000, help_text="The SMS text; it may hold line breaks and tabs, no other control character."
    )
    filter_operator_code = serializers.CharField(required=False, allow_blank=True, max_length=3)
    filter_tag = serializers.CharField(required=False, allow_blank=True, max_length=64)
    send_window_start = TimeInputField(required=False, allow_null=True, help_text="HH:MM, the customer's local time.")
    send_window_end = TimeInputField(required=False, allow_null=True, help_text="HH:MM, the customer's local time.")
    error_threshold_percent = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=100,
        help_text="Pause the mailing when this share (percent) of its recent gateway answers are failures; "
        "null: the platform's MAILING_ERROR_THRESHOLD_PERCENT.",
    )


class CountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    expired = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    total = serializers.IntegerField()


class MessageOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "mailing",
            "customer",
            "phone_number",
            "status",
            "attempts",
            "last_error",
            "next_attempt_at",
            "sent_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


_REQUEST_EXAMPLE = OpenApiExample(
    "Mailing",
    value={k: MAILING_EXAMPLE[k] for k in MailingInputSerializer().fields},
    request_only=True,
)
_RESPONSE_EXAMPLE = OpenApiExample("Mailing", value=MAILING_EXAMPLE, response_only=True)


@extend_schema_view(
    list=extend_schema(summary="List mailings", examples=[_RESPONSE_EXAMPLE]),
    retrieve=extend_schema(summary="Read a mailing", examples=[_RESPONSE_EXAMPLE]),
    create=extend_schema(
        summary="Create a mailing (started at once if due, else at start_at)",
        request=MailingInputSerializer,
        responses={201: MailingOutputSerializer},
        examples=[_REQUEST_EXAMPLE, _RESPONSE_EXAMPLE],
    ),
    update=extend_schema(
        summary="Replace a mailing (a running one may only move end_at)",
        request=MailingInputSerializer,
        responses={200: MailingOutputSerializer},
        examples=[_REQUEST_EXAMPLE, _RESPONSE_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change a mailing (a running one may only move end_at)",
        request=MailingInputSerializer,
        responses={200: MailingOutputSerializer},
        examples=[_REQUEST_EXAMPLE, _RESPONSE_EXAMPLE],
    ),
    destroy=extend_schema(summary="Delete a mailing: its pending messages are cancelled, its history kept"),
)
@extend_schema(tags=["mailings"])
class MailingViewSet(ServiceModelViewSet):
    """Mailings; every write goes through mailings.services."""

    roles = ROLES
    serializer_class = MailingOutputSerializer
    input_serializer_class = MailingInputSerializer
    filterset_class = MailingFilter  # for the schema: selectors.mailing_list runs it
    multiline_fields = ("text",)  # core.parsers: the SMS text may hold line breaks

    def get_queryset(self):
        return selectors.mailing_list(filters=self.request.query_params)

    def perform_service_create(self, data: dict) -> Mailing:
        return mailing_create(**data)

    def perform_service_update(self, instance: Mailing, data: dict) -> Mailing:
        return mailing_update(mailing_id=instance.pk, **data)

    def perform_service_destroy(self, instance: Mailing) -> None:
        mailing_delete(mailing_id=instance.pk)


def _conflict(description: str, example: dict) -> OpenApiResponse:
    """A documented 409 in the one error shape, with an example."""
    return OpenApiResponse(
        ERROR_SCHEMA,
        description=description,
        examples=[OpenApiExample(example["code"], value=example, response_only=True, status_codes=["409"])],
    )


def _transition_schema(*, summary: str, after: dict, conflict: str, conflict_example: dict):
    """The schema of a campaign control: no body; the mailing as it is `after`; its 409."""
    return extend_schema_view(
        post=extend_schema(
            tags=["mailings"],
            summary=summary,
            request=None,
            responses={200: MailingOutputSerializer, 409: _conflict(conflict, conflict_example)},
            examples=[OpenApiExample(after["status"].title(), value={**MAILING_EXAMPLE, **after}, response_only=True)],
        )
    )


class MailingTransitionApi(APIView):
    """A campaign control with no body: calls `service(mailing_id=...)`, answers the mailing."""

    roles = {"POST": WRITERS}
    service = None  # a mailings.services function taking mailing_id

    def post(self, request, id: int):
        mailing = type(self).service(mailing_id=selectors.mailing_get(mailing_id=id).pk)
        return Response(MailingOutputSerializer(mailing).data)


@_transition_schema(
    summary="Cancel a mailing",
    after={"status": "cancelled"},
    conflict="The mailing has finished.",
    conflict_example={"code": "mailing_closed", "detail": "This mailing has already finished."},
)
class MailingCancelApi(MailingTransitionApi):
    """Stops a scheduled, running or paused mailing; its pending messages become `cancelled`."""

    service = staticmethod(mailing_cancel)


@_transition_schema(
    summary="Pause a mailing (a scheduled one does not start) until resumed; end_at still holds",
    after={"status": "paused", "paused_reason": "Paused on request."},
    conflict="The mailing is paused, finished or cancelled already.",
    conflict_example={
        "code": "mailing_not_pausable",
        "detail": "This mailing is finished: only a scheduled or running mailing can be paused.",
    },
)
class MailingPauseApi(MailingTransitionApi):
    """Pauses a scheduled or running mailing: nothing more is sent until it is resumed; the
    messages in flight finish and are recorded; pending messages still expire at end_at."""

    service = staticmethod(mailing_pause)


@_transition_schema(
    summary="Resume a paused mailing (its pause reason is cleared)",
    after={"status": "running", "started_at": MAILING_EXAMPLE["start_at"]},
    conflict="The mailing is not paused.",
    conflict_example={
        "code": "mailing_not_paused",
        "detail": "This mailing is running: only a paused mailing can be resumed.",
    },
)
class MailingResumeApi(MailingTransitionApi):
    """Resumes a paused mailing: running again (or scheduled, if it was paused before its start)."""

    service = staticmethod(mailing_resume)


class MailingResendFailedApi(APIView):
    """Gives a mailing's undelivered messages (`failed`, `expired`) a new chance, with the same ids."""

    roles = {"POST": WRITERS}

    class InputSerializer(serializers.Serializer):
        end_at = DateTimeInputField(
            required=False, help_text="Until when to try; default: the current end_at, if still in the future."
        )

    class OutputSerializer(serializers.Serializer):
        resent = serializers.IntegerField(help_text="How many messages are pending again.")
        mailing = MailingOutputSerializer()

    @extend_schema(
        tags=["mailings"],
        summary="Resend a mailing's failed and expired messages (same ids; a sent one never again)",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            409: _conflict(
                "Nothing to resend, the end is not in the future, or the mailing is cancelled.",
                {
                    "code": "nothing_to_resend",
                    "detail": "This mailing (finished) has no failed or expired message to resend.",
                },
            ),
        },
        examples=[
            OpenApiExample("Until tomorrow evening", value={"end_at": "2026-12-02T20:00:00+03:00"}, request_only=True),
            OpenApiExample(
                "Resent",
                value={
                    "resent": 20,
                    "mailing": {
                        **MAILING_EXAMPLE,
                        "status": "running",
                        "end_at": "2026-12-02T20:00:00+03:00",
                        "started_at": MAILING_EXAMPLE["start_at"],
                    },
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request, id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mailing, resent = mailing_resend_failed(
            mailing_id=selectors.mailing_get(mailing_id=id).pk, end_at=serializer.validated_data.get("end_at")
        )
        return Response(self.OutputSerializer({"resent": resent, "mailing": mailing}).data)


class MailingStatsListApi(APIView):
    """Every mailing with its message counts by status, and the totals over all of them."""

    roles = {"GET": READERS}

    class OutputSerializer(MailingOutputSerializer):
        counts = serializers.SerializerMethodField()

        class Meta(MailingOutputSerializer.Meta):
            fields = [*MailingOutputSerializer.Meta.fields, "counts"]

        def get_counts(self, mailing) -> CountsSerializer:
            counts = {status: getattr(mailing, f"n_{status}") for status in MessageStatus.values}
            return {**counts, "total": mailing.n_total}

    @extend_schema(
        tags=["mailings"],
        operation_id="mailings_stats_list",
        summary="Statistics of every mailing",
        parameters=[
            OpenApiParameter("status", str, enum=MailingStatus.values, description="Only mailings in this status.")
        ],
        responses={
            200: inline_serializer(
                "MailingStatsList",
                {
                    "totals": CountsSerializer(),
                    "mailings": serializers.IntegerField(),
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": OutputSerializer(many=True),
                },
            )
        },
        examples=[
            OpenApiExample(
                "Statistics",
                value={
                    "totals": COUNTS_EXAMPLE,
                    "mailings": 1,
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [{**MAILING_EXAMPLE, "status": "finished", "counts": COUNTS_EXAMPLE}],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        mailings = selectors.mailing_list(filters=request.query_params)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.mailing_stats_list(filters=request.query_params), request, view=self
        )
        response = paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
        totals = selectors.message_counts(mailings=mailings)
        response.data = {"totals": totals, "mailings": response.data["count"], **response.data}
        return response


class MailingStatsApi(APIView):
    """One mailing's counts by status, and its messages (paginated, filter by status)."""

    roles = {"GET": READERS}

    @extend_schema(
        tags=["mailings"],
        operation_id="mailings_stats_retrieve",
        summary="Statistics of one mailing, with its messages",
        parameters=[
            OpenApiParameter("status", str, enum=MessageStatus.values, description="Only messages in this status.")
        ],
        responses={
            200: inline_serializer(
                "MailingStats",
                {
                    "mailing": MailingOutputSerializer(),
                    "counts": CountsSerializer(),
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": MessageOutputSerializer(many=True),
                },
            )
        },
    )
    def get(self, request, id: int):
        mailing = selectors.mailing_get(mailing_id=id)
        status_filter = {"status": request.query_params.get("status")}
        messages = selectors.message_list(mailing_id=mailing.pk, filters=status_filter)
        paginator = Pagination()
        page = paginator.paginate_queryset(messages, request, view=self)
        response = paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)
        response.data = {
            "mailing": MailingOutputSerializer(mailing).data,
            "counts": selectors.message_counts(mailing_id=mailing.pk),
            **response.data,
        }
        return response


@extend_schema_view(
    list=extend_schema(summary="List messages (filter by mailing, customer, status)"),
    retrieve=extend_schema(summary="Read a message"),
)
@extend_schema(tags=["mailings"])
class MessageViewSet(viewsets.ReadOnlyModelViewSet):
    """The messages of every mailing: read only."""

    roles = READERS  # every method: writes answer 405, not 403, as there are none
    serializer_class = MessageOutputSerializer
    lookup_url_kwarg = "id"  # one path parameter name: /{id}/
    lookup_value_regex = "[0-9]+"  # ids are ASCII digits: "٣" is no id
    filterset_class = MessageFilter  # for the schema: selectors.message_list runs it

    def get_queryset(self):
        return selectors.message_list(filters=self.request.query_params)
