"""Customer APIs: the directory's CRUD with filters, and its import from CSV/XLSX files
(marketing and sales; managers read)."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.fields import EmailInputField
from core.parsers import MultiPartParser
from core.roles import Role
from core.selectors import get_or_404
from core.viewsets import ServiceModelViewSet
from customers.filters import CustomerFilter
from customers.import_files import COLUMNS
from customers.models import Customer, CustomerImport
from customers.selectors import customer_import_list, customer_list
from customers.services import (
    IMPORT_ERRORS_KEPT,
    customer_create,
    customer_delete,
    customer_import_create,
    customer_update,
)

WRITERS = (Role.MARKETING, Role.SALES)
READERS = (*WRITERS, Role.MANAGER)

EXAMPLE = {
    "id": 7,
    "email": "ivan@example.com",
    "phone_number": "79123456789",
    "operator_code": "912",
    "tag": "vip",
    "timezone": "Europe/Moscow",
    "created_at": "2026-11-23T10:00:00+03:00",
    "updated_at": "2026-11-23T10:00:00+03:00",
}


class CustomerOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "email", "phone_number", "operator_code", "tag", "timezone", "created_at", "updated_at"]
        read_only_fields = fields


class CustomerInputSerializer(serializers.Serializer):
    email = EmailInputField(required=False, allow_null=True, allow_blank=True)
    phone_number = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=32,
        help_text="+7 (912) 345-67-89, 8 912 345-67-89 or 79123456789; kept as 7XXXXXXXXXX.",
    )
    operator_code = serializers.CharField(
        required=False, allow_blank=True, max_length=3, help_text="Defaults to digits 2-4 of the phone."
    )
    tag = serializers.CharField(required=False, allow_blank=True, max_length=64)
    timezone = serializers.CharField(
        required=False, max_length=64, help_text="IANA name (Europe/Moscow) or an offset (GMT+3, UTC+03:00)."
    )


_REQUEST_EXAMPLE = OpenApiExample(
    "Customer",
    value={"email": "ivan@example.com", "phone_number": "79123456789", "tag": "vip", "timezone": "GMT+3"},
    request_only=True,
)
_RESPONSE_EXAMPLE = OpenApiExample("Customer", value=EXAMPLE, response_only=True)


@extend_schema_view(
    list=extend_schema(summary="List customers", examples=[_RESPONSE_EXAMPLE]),
    retrieve=extend_schema(summary="Read a customer", examples=[_RESPONSE_EXAMPLE]),
    create=extend_schema(
        summary="Add a customer (e-mail and/or phone)",
        request=CustomerInputSerializer,
        responses={201: CustomerOutputSerializer},
        examples=[_REQUEST_EXAMPLE, _RESPONSE_EXAMPLE],
    ),
    update=extend_schema(
        summary="Replace a customer",
        request=CustomerInputSerializer,
        responses={200: CustomerOutputSerializer},
        examples=[_REQUEST_EXAMPLE, _RESPONSE_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change some of a customer's fields",
        request=CustomerInputSerializer,
        responses={200: CustomerOutputSerializer},
        examples=[_REQUEST_EXAMPLE, _RESPONSE_EXAMPLE],
    ),
    destroy=extend_schema(summary="Delete a customer (409 while orders refer to it)"),
)
@extend_schema(tags=["customers"])
class CustomerViewSet(ServiceModelViewSet):
    """The customer directory; writes go through customers.services."""

    roles = {"GET": READERS, "POST": WRITERS, "PUT": WRITERS, "PATCH": WRITERS, "DELETE": WRITERS}
    serializer_class = CustomerOutputSerializer
    input_serializer_class = CustomerInputSerializer
    filterset_class = CustomerFilter  # for the schema: selectors.customer_list runs it

    def get_queryset(self):
        return customer_list(filters=self.request.query_params)

    def perform_service_create(self, data: dict) -> Customer:
        return customer_create(**data)

    def perform_service_update(self, instance: Customer, data: dict) -> Customer:
        return customer_update(customer=instance, **data)

    def perform_service_destroy(self, instance: Customer) -> None:
        customer_delete(customer=instance)


# --- imports ---------------------------------------------------------------------------
IMPORT_EXAMPLE = {
    "id": 12,
    "status": "done",
    "file_name": "customers.csv",
    "file_format": "csv",
    "size": 734,
    "total": 5,
    "processed": 5,
    "created": 2,
    "updated": 1,
    "unchanged": 0,
    "failed": 2,
    "errors": [
        {"row": 3, "field": "phone_number", "reason": "Enter a valid phone number of country code 7."},
        {"row": 5, "field": "email", "reason": "Row 2 of this file has the same email; the first one counts."},
    ],
    "errors_truncated": False,
    "attempts": 1,
    "error": "",
    "requested_by": "marketing-1",
    "created_at": "2026-11-23T10:00:00+03:00",
    "finished_at": "2026-11-23T10:00:01+03:00",
    "url": "/api/v1/customers/imports/12/",
}
CSV_EXAMPLE = (
    "phone_number,email,operator_code,tag,timezone\n"
    "+7 912 345-67-89,ivan@example.com,,vip,Europe/Moscow\n"
    "89161234567,,,new,GMT+3\n"
)


class CustomerImportRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="As a spreadsheet numbers it: the header is row 1.")
    field = serializers.CharField(help_text="The column, or non_field_errors for the row as a whole.")
    reason = serializers.CharField()


class CustomerImportOutputSerializer(serializers.ModelSerializer):
    errors = CustomerImportRowErrorSerializer(
        many=True, help_text=f"The refused rows' problems, the first {IMPORT_ERRORS_KEPT} only."
    )
    error = serializers.CharField(source="last_error", help_text="Why the last attempt failed, if it did.")
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = CustomerImport
        fields = [
            "id",
            "status",
            "file_name",
            "file_format",
            "size",
            "total",
            "processed",
            "created",
            "updated",
            "unchanged",
            "failed",
            "errors",
            "errors_truncated",
            "attempts",
            "error",
            "requested_by",
            "created_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, customer_import: CustomerImport) -> str:
        return reverse("customer-import-detail", kwargs={"id": customer_import.pk})


class CustomerImportCreateApi(APIView):
    roles = WRITERS
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(
            help_text=(
                f"CSV (UTF-8, comma or semicolon) with a header row, or XLSX with the header on its first sheet; "
                f"columns among {', '.join(COLUMNS)} (phone_number or email required)."
            )
        )

    @extend_schema(
        tags=["customers"],
        summary="Import customers from a CSV or XLSX file (202, then poll)",
        description=(
            "The file is stored and checked as a whole (format, encoding, header, size), then imported in the "
            "background in batches: each row is checked by the same rules as POST /api/v1/customers/, and "
            "upserted by phone, then by e-mail. An empty cell keeps the stored value. A later row with a phone "
            "or e-mail an earlier row of the file used is refused (the first counts), so importing a file again "
            "changes nothing. Bad rows are reported with their row number; good rows are kept. "
            "413 over MAX_IMPORT_BYTES or MAX_IMPORT_ROWS. `Location` is the URL to poll."
        ),
        request={"multipart/form-data": InputSerializer},
        responses={
            202: CustomerImportOutputSerializer,
            400: OpenApiResponse(description="Not CSV (UTF-8) or XLSX, no header, unknown columns, a NUL byte."),
            413: OpenApiResponse(description="Over MAX_IMPORT_BYTES or MAX_IMPORT_ROWS (named in the answer)."),
        },
        examples=[
            OpenApiExample("A CSV file", value={"file": CSV_EXAMPLE}, request_only=True),
            OpenApiExample(
                "Accepted",
                value={
                    **IMPORT_EXAMPLE,
                    "status": "pending",
                    "processed": 0,
                    "created": 0,
                    "updated": 0,
                    "failed": 0,
                    "errors": [],
                    "attempts": 0,
                    "finished_at": None,
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer_import = customer_import_create(upload=serializer.validated_data["file"], requested_by=request.user)
        response = Response(CustomerImportOutputSerializer(customer_import).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("customer-import-detail", kwargs={"id": customer_import.pk})
        return response


class CustomerImportListApi(ListAPIView):
    roles = READERS
    serializer_class = CustomerImportOutputSerializer

    def get_queryset(self):
        return customer_import_list()

    @extend_schema(
        tags=["customers"],
        summary="Customer imports, newest first",
        examples=[OpenApiExample("Imports", value=[IMPORT_EXAMPLE], response_only=True)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CustomerImportDetailApi(APIView):
    roles = READERS

    @extend_schema(
        tags=["customers"],
        summary="One customer import (poll until `status` is done or failed)",
        description=(
            "`processed` grows batch by batch while it runs; `created` + `updated` + `unchanged` + `failed` = "
            "`processed`. An XLSX's `total` is its sheet's size (an upper bound) until the import is done."
        ),
        responses=CustomerImportOutputSerializer,
        examples=[OpenApiExample("Done", value=IMPORT_EXAMPLE, response_only=True)],
    )
    def get(self, request, id: int):
        return Response(CustomerImportOutputSerializer(get_or_404(customer_import_list(), pk=id)).data)
