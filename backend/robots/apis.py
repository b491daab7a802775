"""Robot APIs: the catalog, ingest (single and batch), the robot list."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.fields import DateTimeInputField
from core.idempotency import idempotent
from core.roles import Role
from robots import selectors, services
from robots.filters import RobotFilter
from robots.models import Robot, RobotModel

CATALOG_READERS = (Role.PRODUCTION_LINE, Role.SALES, Role.MANAGER)
# The catalog's one path parameter is the model's code, not an id: a model is known by its code
# everywhere (a robot's `model`, a serial "R2-D2", the weekly report's sheets), and the catalog
# answers no id at all.
CODE_PARAMETER = OpenApiParameter(
    "code",
    str,
    OpenApiParameter.PATH,
    description="The robot model's code, e.g. R2 (the catalog's key: models are known by their code, not an id).",
)
ROBOT_EXAMPLE = {"model": "R2", "version": "D2", "created": "2023-10-03 23:59:12"}


class RobotModelOutputSerializer(serializers.ModelSerializer):
    versions = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")

    class Meta:
        model = RobotModel
        fields = ["code", "name", "versions"]


class RobotModelListApi(ListAPIView):
    roles = {"GET": CATALOG_READERS, "POST": (Role.MANAGER,)}
    serializer_class = RobotModelOutputSerializer

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=2, help_text="Exactly two letters or digits.")
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        versions = serializers.ListField(child=serializers.CharField(max_length=2), required=False, default=list)

        def validate_versions(self, versions: list[str]) -> list[str]:
            """A version given twice is the client's mistake (a 400 naming it), not a conflict
            with the catalog (the 409 the second insert would meet)."""
            first = {}
            for index, code in enumerate(versions):
                if code in first:
                    raise serializers.ValidationError({index: [f"Given twice (also at {first[code]})."]})
                first[code] = index
            return versions

    def get_queryset(self):
        return selectors.robot_model_list()

    @extend_schema(tags=["catalog"], summary="List robot models and their versions")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["catalog"],
        summary="Add a robot model",
        request=InputSerializer,
        responses={201: RobotModelOutputSerializer, 409: OpenApiResponse(description="The model exists already.")},
        examples=[OpenApiExample("R2", value={"code": "R2", "name": "Astromech", "versions": ["D2", "A1"]})],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        robot_model = services.robot_model_create(**serializer.validated_data)
        return Response(RobotModelOutputSerializer(robot_model).data, status=status.HTTP_201_CREATED)


class RobotModelDetailApi(APIView):
    roles = CATALOG_READERS

    @extend_schema(
        tags=["catalog"], summary="One robot model", parameters=[CODE_PARAMETER], responses=RobotModelOutputSerializer
    )
    def get(self, request, code: str):
        robot_model = selectors.robot_model_get(code=code)
        return Response(RobotModelOutputSerializer(robot_model).data)


class RobotVersionCreateApi(APIView):
    roles = (Role.MANAGER,)

    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=2, help_text="Exactly two letters or digits.")

    @extend_schema(
        tags=["catalog"],
        summary="Add a version to a robot model",
        parameters=[CODE_PARAMETER],
        request=InputSerializer,
        responses={201: RobotModelOutputSerializer, 409: OpenApiResponse(description="The version exists already.")},
        examples=[OpenApiExample("D2", value={"code": "D2"})],
    )
    def post(self, request, code: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        robot_model = selectors.robot_model_get(code=code)
        services.robot_version_create(robot_model=robot_model, code=serializer.validated_data["code"])
        return Response(RobotModelOutputSerializer(selectors.robot_model_get(code=code)).data, status=201)


class RobotOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Robot
        fields = ["id", "serial", "model", "version", "created"]


_created_field = serializers.DateTimeField()


def robot_output(robot: Robot) -> dict:
    """RobotOutputSerializer's answer built directly (the shape is fixed; tests compare the
    two): the ingest's hot path skips building a serializer for every robot."""
    return {
        "id": robot.pk,
        "serial": robot.serial,
        "model": robot.model,
        "version": robot.version,
        "created": _created_field.to_representation(robot.created),
    }


class RobotListCreateApi(ListAPIView):
    """Managers list robots; a production line reports one finished robot."""

    roles = {"GET": (Role.MANAGER,), "POST": (Role.PRODUCTION_LINE,)}
    serializer_class = RobotOutputSerializer
    filterset_class = RobotFilter  # for the schema: selectors.robot_list runs it

    def get_queryset(self):
        return selectors.robot_list(filters=self.request.query_params)

    @extend_schema(tags=["robots"], summary="List robots, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    class InputSerializer(serializers.Serializer):
        model = serializers.CharField(min_length=2, max_length=2, help_text="A model code of the catalog.")
        version = serializers.CharField(min_length=2, max_length=2, help_text="A version code of that model.")
        # Documents the input: robots.services checks it with the same parser (core.guards).
        created = DateTimeInputField(
            help_text=(
                "When it was finished: 'YYYY-MM-DD hh:mm:ss' (factory time) or ISO 8601 with an offset "
                "within ±14:00; years 2000–2100; not beyond now plus ROBOT_CLOCK_SKEW."
            )
        )

    @extend_schema(
        tags=["robots"],
        summary="Report a finished robot",
        request=InputSerializer,
        responses={201: RobotOutputSerializer, 409: OpenApiResponse(description="Idempotency-Key reused.")},
        examples=[
            OpenApiExample("Request", value=ROBOT_EXAMPLE, request_only=True),
            OpenApiExample(
                "Response",
                value={
                    "id": 1,
                    "serial": "R2-D2",
                    "model": "R2",
                    "version": "D2",
                    "created": "2023-10-03T23:59:12+03:00",
                },
                response_only=True,
            ),
        ],
    )
    @idempotent
    def post(self, request):
        robot = services.robot_create(data=request.data)
        return Response(robot_output(robot), status=status.HTTP_201_CREATED)


class RobotBatchCreateApi(APIView):
    """A production line reports up to 1000 robots at once: all are recorded, or none."""

    roles = (Role.PRODUCTION_LINE,)

    class OutputSerializer(serializers.Serializer):
        created = serializers.IntegerField()

    @extend_schema(
        tags=["robots"],
        summary="Report a batch of robots (up to 1000; all or nothing)",
        request=RobotListCreateApi.InputSerializer(many=True),
        responses={201: OutputSerializer, 409: OpenApiResponse(description="Idempotency-Key reused.")},
        examples=[
            OpenApiExample("Request", value=[ROBOT_EXAMPLE, {**ROBOT_EXAMPLE, "version": "A1"}], request_only=True),
            OpenApiExample("Response", value={"created": 2}, response_only=True),
        ],
    )
    @idempotent
    def post(self, request):
        created = services.robots_create_batch(items=request.data)
        return Response(self.OutputSerializer({"created": created}).data, status=status.HTTP_201_CREATED)
