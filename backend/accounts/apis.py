"""Account APIs: exchange a username and password for a token; who am I."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.throttling import FailOpenScopedRateThrottle
from core.exceptions import ApplicationError
from core.permissions import IsAuthenticatedAnyRole


class TokenCreateApi(APIView):
    """Open to anyone, throttled per client: the way a person's account gets an API token."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [FailOpenScopedRateThrottle]
    throttle_scope = "auth"
    # A refused sign-in answers 401 and must still count towards the lockout (django-axes
    # writes it): not wrapped in the request's all-or-nothing transaction (core.transactions).
    atomic_request = False

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(
        tags=["auth"],
        summary="Get an API token",
        request=InputSerializer,
        responses={200: OutputSerializer},
        examples=[
            OpenApiExample("Request", value={"username": "line-1", "password": "s3cret-passphrase"}, request_only=True),
            OpenApiExample("Response", value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"}, response_only=True),
        ],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Django's request, not DRF's: django-axes marks it when this address is locked out, and
        # its middleware then answers 429 (accounts.lockout) instead of the 401 below.
        user = authenticate(request._request, **serializer.validated_data)
        if user is None:
            raise ApplicationError(
                "Unknown username or wrong password.",
                code="invalid_credentials",
                status_code=status.HTTP_401_UNAUTHORIZED,
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response(self.OutputSerializer({"token": token.key}).data)


class MeApi(APIView):
    """Any signed-in account may read its own profile and roles."""

    permission_classes = [IsAuthenticatedAnyRole]

    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        name = serializers.CharField()
        email = serializers.CharField(help_text="May be empty.")
        roles = serializers.ListField(child=serializers.CharField())
        is_superuser = serializers.BooleanField()

    @extend_schema(
        tags=["auth"],
        summary="The calling account",
        responses={200: OutputSerializer},
        examples=[
            OpenApiExample(
                "Production line",
                value={
                    "username": "line-1",
                    "name": "",
                    "email": "",
                    "roles": ["production_line"],
                    "is_superuser": False,
                },
            )
        ],
    )
    def get(self, request):
        user = request.user
        data = {
            "username": user.username,
            "name": user.name,
            "email": user.email,
            "roles": sorted(user.groups.values_list("name", flat=True)),
            "is_superuser": user.is_superuser,
        }
        return Response(self.OutputSerializer(data).data)
