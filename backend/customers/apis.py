"""Customer APIs: the directory's CRUD with filters (marketing and sales; managers read)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers

from core.fields import EmailInputField
from core.roles import Role
from core.viewsets import ServiceModelViewSet
from customers.filters import CustomerFilter
from customers.models import Customer
from customers.selectors import customer_list
from customers.services import customer_create, customer_delete, customer_update

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
