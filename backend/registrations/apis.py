"""Registration APIs: useradd, an account for anyone who asks (throttled per client address)."""

from collections.abc import Mapping

from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.throttling import FailOpenScopedRateThrottle
from core.fields import DateInputField, EmailInputField
from core.guards import YearRange
from registrations.services import CONTACT_REQUIRED, account_register

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

    Every request, whatever its outcome, is an entry of the registration request log
    (registrations.middleware). The input serializer checks the body's shape, every problem
    at once; the rules of the values (phone, birth date, what is taken) are the service's.
    """

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [FailOpenScopedRateThrottle]
    throttle_scope = "useradd"

    def get_throttles(self):
        """Only a POST asks for an account, so only a POST counts against the client's rate."""
        return super().get_throttles() if self.request.method == "POST" else []

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150)
        username = serializers.CharField(min_length=3, max_length=150, validators=[UnicodeUsernameValidator()])
        phone = serializers.CharField(
            required=False,
            allow_blank=True,
            allow_null=True,
            max_length=32,
            help_text="+7 (916) 123-45-67, 8 916 123-45-67 or 79161234567; kept as 7XXXXXXXXXX.",
        )
        email = EmailInputField(required=False, allow_blank=True, allow_null=True)
        # Any year parses; the service says which are plausible (1900 to today).
        birth_date = DateInputField(
            required=False, allow_null=True, years=YearRange(1, 9999), help_text="YYYY-MM-DD, 1900 to today."
        )

        def to_internal_value(self, data):
            # The body's shape is reported whole, keys this endpoint does not take (a
            # `password` sent along would be ignored silently otherwise) and a body with no
            # contact at all included, with the missing and malformed fields.
            errors = {}
            if isinstance(data, Mapping):
                for key in data:
                    if key not in self.fields:
                        errors[str(key)[:50]] = [ErrorDetail("This field is not accepted.", code="unknown_field")]
                if not data.get("phone") and not data.get("email"):
                    errors[api_settings.NON_FIELD_ERRORS_KEY] = [ErrorDetail(CONTACT_REQUIRED, code="contact_required")]
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
            "one of `phone` (a Russian number: +7 or 8 and ten digits, kept as 7XXXXXXXXXX) and `email`; "
            "`birth_date` (YYYY-MM-DD) may not lie in the future. "
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
                        "non_field_errors": [CONTACT_REQUIRED],
                    },
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        if not isinstance(request.data, Mapping):
            raise exceptions.ParseError("The body must be a JSON object.")
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, password = account_register(**serializer.validated_data)
        response = Response(
            self.OutputSerializer({"login": user.username, "password": password}).data, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"  # the password must not stay in any cache
        return response
