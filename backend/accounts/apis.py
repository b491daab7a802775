"""Account APIs: self-provisioning (useradd); exchange a username and password for a token; who am I."""

from collections.abc import Mapping
from datetime import date

from django.contrib.auth import authenticate
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ErrorDetail
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.middleware import ATTEMPT_ATTRIBUTE, flatten_codes
from accounts.services import account_register
from accounts.throttling import FailOpenScopedRateThrottle
from core.exceptions import ApplicationError
from core.fields import DateInputField, EmailInputField
from core.guards import YearRange
from core.permissions import IsAuthenticatedAnyRole
from core.phones import phone_normalize

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "fields": {
            "type": "object",
            # Messages by field; a value nested in a field (a list, an object) is named by its place in it.
            "additionalProperties": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]},
        },
    },
}


class AccountRegisterApi(APIView):
    """Open to anyone, throttled per client address: an integrator or a member of staff gets an account.

    Every request, whatever its outcome, is recorded by accounts.middleware; the view
    leaves on the request what it learnt (the login asked for, masked contacts, error codes).
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [FailOpenScopedRateThrottle]
    throttle_scope = "useradd"

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150)
        username = serializers.CharField(min_length=3, max_length=150, validators=[UnicodeUsernameValidator()])
        phone = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, max_length=32, help_text="7XXXXXXXXXX"
        )
        email = EmailInputField(required=False, allow_blank=True, allow_null=True)
        # Any year parses; validate_birth_date says which are plausible (1900 to today).
        birth_date = DateInputField(
            required=False, allow_null=True, years=YearRange(1, 9999), help_text="YYYY-MM-DD, 1900 to today."
        )

        def validate_phone(self, value: str | None) -> str:
            if not value:
                return ""
            try:
                return phone_normalize(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages, code=exc.code) from None

        def validate_email(self, value: str | None) -> str:
            return BaseUserManager.normalize_email(value) if value else ""

        def validate_birth_date(self, value: date | None) -> date | None:
            if value is None:
                return None
            if value > timezone.localdate():
                raise serializers.ValidationError("The birth date may not lie in the future.", code="in_future")
            if value < EARLIEST_BIRTH_DATE:
                raise serializers.ValidationError("The birth date must be in 1900 or later.", code="too_early")
            return value

        def to_internal_value(self, data):
            # Every rejected field is reported at once, including the contact rule and
            # keys this endpoint does not take (a `password` sent along would be ignored
            # silently otherwise).
            errors = {}
            if isinstance(data, Mapping):
                for key in data:
                    if key not in self.fields:
                        errors[str(key)[:50]] = [ErrorDetail("This field is not accepted.", code="unknown_field")]
                if not data.get("phone") and not data.get("email"):
                    errors[api_settings.NON_FIELD_ERRORS_KEY] = [
                        ErrorDetail("Give at least one of phone and email.", code="contact_required")
                    ]
            try:
                value = super().to_internal_value(data)
            except serializers.ValidationError as exc:
                errors = {**exc.detail, **errors} if isinstance(exc.detail, dict) else errors or exc.detail
                raise serializers.ValidationError(errors) from exc
            if errors:
                raise serializers.ValidationError(errors)
            return value

    class OutputSerializer(serializers.Serializer):
        login = serializers.CharField()
        password = serializers.CharField(help_text="Generated; shown this once and stored only as an Argon2 hash.")

    @extend_schema(
        tags=["accounts"],
        summary="Create an account (useradd)",
        description=(
            "Open to anyone, throttled per client address. `name` and `username` are required, and at least "
            "one of `phone` (7XXXXXXXXXX) and `email`; `birth_date` (YYYY-MM-DD) may not lie in the future. "
            "Answers the login and a generated password, shown once. The new account has no API role. "
            "400 names every rejected field; 409 names each of login, e-mail and phone that is taken."
        ),
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: OpenApiResponse(ERROR_SCHEMA, description="Invalid input; `fields` says what is wrong."),
            409: OpenApiResponse(ERROR_SCHEMA, description="The login, e-mail or phone is taken."),
            429: OpenApiResponse(ERROR_SCHEMA, description="Too many requests from this client."),
            503: OpenApiResponse(ERROR_SCHEMA, description="The database is unavailable; retry later."),
        },
        examples=[
            OpenApiExample(
                "Request",
                value={
                    "name": "Ann Integrator",
                    "username": "ann",
                    "phone": "79161234567",
                    "email": "ann@example.com",
                    "birth_date": "1990-05-17",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value={"login": "ann", "password": "q7V-h2Ld_x9pT4mN8wZr"}, response_only=True),
            OpenApiExample(
                "Rejected",
                status_codes=["400"],
                value={
                    "code": "invalid",
                    "detail": "The request was rejected; see `fields`.",
                    "fields": {
                        "username": ["This field is required."],
                        "non_field_errors": ["Give at least one of phone and email."],
                    },
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        attempt = self._attempt()
        if not isinstance(request.data, Mapping):
            raise exceptions.ParseError("The body must be a JSON object.")
        self._remember_input(request.data)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, password = account_register(**serializer.validated_data)
        attempt["user_id"] = user.pk
        response = Response(
            self.OutputSerializer({"login": user.username, "password": password}).data, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"  # the password must not stay in any cache
        return response

    def handle_exception(self, exc):
        attempt = self._attempt()
        if isinstance(exc, exceptions.ValidationError):
            attempt["error_codes"] = flatten_codes(exc.get_codes())
        elif isinstance(exc, ApplicationError) and exc.fields:
            attempt["error_codes"] = [f"{name}.{exc.code}" for name in exc.fields]
        elif isinstance(exc, exceptions.APIException):
            attempt["error_codes"] = flatten_codes(exc.get_codes())
        if "login" not in attempt and not isinstance(exc, exceptions.ParseError):
            try:  # a throttled request is refused before the body is read: read it for the log
                if isinstance(self.request.data, Mapping):
                    self._remember_input(self.request.data)
            except Exception:  # noqa: S110 (an unreadable body leaves the login unknown)
                pass
        return super().handle_exception(exc)

    def _attempt(self) -> dict:
        django_request = self.request._request
        if not hasattr(django_request, ATTEMPT_ATTRIBUTE):
            setattr(django_request, ATTEMPT_ATTRIBUTE, {})
        return getattr(django_request, ATTEMPT_ATTRIBUTE)

    def _remember_input(self, data: Mapping) -> None:
        attempt = self._attempt()
        username = data.get("username")
        attempt["login"] = username.strip()[:150] if isinstance(username, str) else ""
        attempt["email"] = data.get("email") if isinstance(data.get("email"), str) else ""
        attempt["phone"] = data.get("phone") if isinstance(data.get("phone"), str | int) else ""


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
