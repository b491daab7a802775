"""Records every request to the useradd endpoint in the request log, whatever its fate.

A middleware rather than the view, so that requests refused before the view runs (a
body too large, a throttled client) and requests that crashed are recorded as well.
It runs after the response exists, i.e. after the account's transaction has committed or
rolled back, and writes the entry in a transaction of its own.
"""

import json
import logging
import time

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_guid import get_guid

from accounts.masking import mask_email, mask_login, mask_phone
from accounts.metrics import useradd_request_observe
from accounts.models import RegistrationOutcome
from accounts.services import RegistrationRecord, registration_request_record
from accounts.throttling import client_address

logger = logging.getLogger(__name__)

# The view leaves what it learnt about the attempt on the request under this name.
ATTEMPT_ATTRIBUTE = "useradd_attempt"
# The API's route (accounts.urls, under /api/v1/); a test checks that the two agree.
USERADD_PATH = "/api/v1/useradd/"
MALFORMED_CODES = {
    "parse_error",
    "unsupported_media_type",
    "request_too_large",
    "invalid_content_length",
    "bad_request",
}


def outcome_for(status_code: int, code: str) -> str:
    if 200 <= status_code < 300:
        return RegistrationOutcome.CREATED
    if status_code == 429:
        return RegistrationOutcome.THROTTLED
    if status_code == 409:
        return RegistrationOutcome.CONFLICT
    if status_code in (413, 415) or code in MALFORMED_CODES:
        return RegistrationOutcome.MALFORMED
    if status_code == 503:
        return RegistrationOutcome.UNAVAILABLE
    if status_code >= 500:
        return RegistrationOutcome.ERROR
    if status_code == 405:
        return RegistrationOutcome.MALFORMED
    return RegistrationOutcome.REJECTED


def _error_body(response: HttpResponse) -> dict:
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        return data
    if response.streaming or "json" not in response.get("Content-Type", ""):
        return {}
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def flatten_codes(codes, prefix: str = "") -> list[str]:
    """`{"phone": ["invalid"], "items": {"0": ["x"]}}` -> `["phone.invalid", "items.0.x"]`."""
    if isinstance(codes, dict):
        return [c for key, value in codes.items() for c in flatten_codes(value, f"{prefix}{key}.")]
    if isinstance(codes, (list, tuple)):
        return [c for value in codes for c in flatten_codes(value, prefix)]
    return [f"{prefix}{codes}"]


class RegistrationRequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    @staticmethod
    def _is_useradd(request: HttpRequest) -> bool:
        return request.path_info.rstrip("/") == USERADD_PATH.rstrip("/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self._is_useradd(request):
            return self.get_response(request)
        created_at = timezone.now()
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        try:
            record = self._record(request, response, created_at, duration_ms)
            registration_request_record(record=record)
            useradd_request_observe(outcome=record.outcome, seconds=duration_ms / 1000)
        except Exception:  # the log must never turn a served request into an error
            logger.exception("useradd request could not be recorded")
        return response

    def _record(self, request, response, created_at, duration_ms) -> RegistrationRecord:
        attempt = getattr(request, ATTEMPT_ATTRIBUTE, {})
        status_code = response.status_code
        body = _error_body(response) if status_code >= 400 else {}
        code = str(body.get("code", "")) if body else ""
        if "error_codes" in attempt:
            error_codes = attempt["error_codes"]
        elif status_code >= 400:
            fields = body.get("fields")
            error_codes = [f"{name}.{code}" for name in fields] if isinstance(fields, dict) else [code or "error"]
        else:
            error_codes = []
        # Plain JSON (a DRF body holds ErrorDetail strings and ReturnDicts).
        errors = json.loads(json.dumps({k: v for k, v in body.items() if k in ("detail", "fields")}, default=str))
        return RegistrationRecord(
            created_at=created_at,
            status_code=status_code,
            outcome=outcome_for(status_code, code),
            duration_ms=round(duration_ms, 2),
            request_id=get_guid() or "",
            method=request.method or "",
            error_codes=error_codes,
            errors=errors,
            login=mask_login(attempt.get("login", "")),
            email_masked=mask_email(attempt.get("email")),
            phone_masked=mask_phone(attempt.get("phone")),
            client_address=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
            user_id=attempt.get("user_id"),
        )
