"""Order APIs for sales: create (JSON or form), list, read, cancel; the stock (robots less those reserved)."""

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.fields import EmailInputField
from core.idempotency import idempotent
from core.parsers import FormParser, JSONParser, MultiPartParser
from core.roles import Role
from orders import selectors, services
from orders.filters import OrderFilter
from orders.models import Order

ORDER_EXAMPLE = {
    "id": 7,
    "email": "ann@example.com",
    "robot_serial": "R2-D2",
    "status": "notified",
    "robot": 42,
    "created": "2023-10-04T10:00:00+03:00",
    "notified_at": "2023-10-04T10:00:00+03:00",
}


class OrderOutputSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="customer.email")
    created = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Order
        fields = ["id", "email", "robot_serial", "status", "robot", "created", "notified_at", "cancelled_at"]


class OrderListCreateApi(ListAPIView):
    roles = {"GET": (Role.SALES, Role.MANAGER), "POST": (Role.SALES,)}
    serializer_class = OrderOutputSerializer
    filterset_class = OrderFilter  # for the schema: selectors.order_list runs it
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    class InputSerializer(serializers.Serializer):
        email = EmailInputField()
        robot_serial = serializers.RegexField(
            r"^[A-Za-z0-9]{2}-[A-Za-z0-9]{2}$", max_length=5, help_text="Model-version, e.g. R2-D2."
        )

    def get_queryset(self):
        return selectors.order_list(filters=self.request.query_params)

    @extend_schema(tags=["orders"], summary="List orders, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["orders"],
        summary="Order a robot; the customer is e-mailed as soon as one is in stock",
        description="JSON or form data; form data may name the serial `robot-serial`.",
        request=InputSerializer,
        responses={201: OrderOutputSerializer, 409: OpenApiResponse(description="Idempotency-Key reused.")},
        examples=[
            OpenApiExample("Request", value={"email": "ann@example.com", "robot_serial": "R2-D2"}, request_only=True),
            OpenApiExample("Response", value=ORDER_EXAMPLE, response_only=True),
        ],
    )
    @idempotent
    def post(self, request):
        data = request.data
        if isinstance(data, Mapping) and "robot_serial" not in data and "robot-serial" in data:
            data = {"email": data.get("email"), "robot_serial": data.get("robot-serial")}  # the shop's form
        serializer = self.InputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        order = services.order_create(**serializer.validated_data)
        return Response(OrderOutputSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetailApi(APIView):
    roles = (Role.SALES, Role.MANAGER)

    @extend_schema(tags=["orders"], summary="One order", responses=OrderOutputSerializer)
    def get(self, request, id: int):
        return Response(OrderOutputSerializer(selectors.order_get(order_id=id)).data)


class OrderCancelApi(APIView):
    roles = (Role.SALES,)

    @extend_schema(
        tags=["orders"],
        summary="Cancel an order; a robot it held goes to the next waiting order",
        request=None,
        responses={200: OrderOutputSerializer},
        examples=[OpenApiExample("Cancelled", value={**ORDER_EXAMPLE, "status": "cancelled", "robot": None})],
    )
    def post(self, request, id: int):
        order = services.order_cancel(order_id=id)
        return Response(OrderOutputSerializer(order).data)


class StockOutputSerializer(serializers.Serializer):
    serial = serializers.CharField()
    model = serializers.CharField()
    version = serializers.CharField()
    produced = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()


class StockApi(ListAPIView):
    roles = (Role.SALES, Role.MANAGER)
    serializer_class = StockOutputSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.stock_list()

    @extend_schema(
        tags=["robots"],
        summary="Stock per serial: produced, reserved for orders, available",
        examples=[
            OpenApiExample(
                "R2-D2",
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "serial": "R2-D2",
                            "model": "R2",
                            "version": "D2",
                            "produced": 5,
                            "reserved": 2,
                            "available": 3,
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
