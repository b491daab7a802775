"""Records every request to useradd in the registration request log, whatever its fate: the one
place an entry is made.

A middleware rather than the view, so that requests refused before the view runs (a body too
large, control characters in a header) or inside it (throttled, malformed) and requests that
crashed are recorded as well. What it records it reads from the request (the body's login and
contacts, before anything else reads it) and from the response (status, error codes, the
account made); nothing passes between it and the view. It runs after the response exists,
i.e. after the account's transaction has committed or rolled back, and writes the entry in a
transaction of its own (registrations.services.registration_request_log).
"""

import functools
import json
import logging
import time
from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django_guid import get_guid

from accounts.selectors import user_id_by_login
from accounts.throttling import client_address
from core.guards import header_text
from registrations.masking import mask_email, mask_login, mask_phone
from registrations.metrics import registration_request_observe
from registrations.models import RegistrationOutcome, RegistrationRequest
from registrations.services import registration_request_log

logger = logging.getLogger(__name__)

USERADD_URL_NAME = "useradd"
LOGGED_FIELDS = 20  # the rejected fields an entry keeps
MALFORMED_CODES = {
    "parse_error",
    "unsupported_media_type",
    "request_too_large",
    "invalid_content_length",
    "bad_request",
    "method_not_allowed",
}


@functools.cache
def useradd_path() -> str:
    """The path useradd is served at (registrations.urls), without its trailing slash."""
    return reverse(USERADD_URL_NAME).rstrip("/")


def outcome_for(status_code: int, code: str) -> str:
    if status_code == 201:  # the one answer that made an account
        return RegistrationOutcome.CREATED
    if status_code == 429:
        return RegistrationOutcome.THROTTLED
    if status_code == 409:
        return RegistrationOutcome.CONFLICT
    if status_code in (405, 413, 415) or code in MALFORMED_CODES:
        return RegistrationOutcome.MALFORMED
    if status_code == 503:
        return RegistrationOutcome.UNAVAILABLE
    if status_code >= 500:
        return RegistrationOutcome.ERROR
    return RegistrationOutcome.REJECTED


def _asked_for(request: HttpRequest) -> Mapping:
    """The JSON object the client sent, read before the view (which reads the same cached
    bytes); empty for a body of another kind, one too large to be read, or no object."""
    if "json" not in request.content_type:
        return {}
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.MAX_BODY_SIZE:
            return {}  # refused unread (core.middleware.BodySizeLimitMiddleware)
        data = json.loads(request.body)
    except (ValueError, RecursionError, OSError):
        return {}
    return data if isinstance(data, Mapping) else {}


def _body(response: HttpResponse) -> dict:
    """The response's body: DRF's data as the view made it (with each error's code), or the JSON
    a middleware or a handler answered with."""
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


def error_codes(body: dict) -> list[str]:
    """`{"code": "invalid", "fields": {"phone": [<invalid_phone>], "items": {"0": [...]}}}` ->
    `["phone.invalid_phone", "items.0.<code>"]`: each field's error codes (DRF keeps them on its
    messages), or the answer's own code where a message carries none."""
    code = str(body.get("code") or "error")
    fields = body.get("fields")
    if not isinstance(fields, dict):
        return [code]

    def walk(value, prefix: str) -> list[str]:
        if isinstance(value, dict):
            return [found for key, item in value.items() for found in walk(item, f"{prefix}{key}.")]
        if isinstance(value, list | tuple):
            return [found for item in value for found in walk(item, prefix)]
        return [f"{prefix}{getattr(value, 'code', None) or code}"]

    return list(dict.fromkeys(walk(fields, "")))


class RegistrationRequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # OPTIONS asks what the endpoint takes, not for an account: it is no registration request.
        if request.path_info.rstrip("/") != useradd_path() or request.method == "OPTIONS":
            return self.get_response(request)
        created_at = timezone.now()
        started = time.perf_counter()
        asked = _asked_for(request)
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        try:
            entry = self._entry(request, asked, response, created_at=created_at, duration_ms=duration_ms)
            registration_request_log(entry=entry)
            registration_request_observe(outcome=entry.outcome, seconds=duration_ms / 1000)
        except Exception:  # the log must never turn a served request into an error
            logger.exception("registration request could not be recorded")
        return response

    @staticmethod
    def _entry(request, asked: Mapping, response, *, created_at, duration_ms: float) -> RegistrationRequest:
        status_code = response.status_code
        body = _body(response)
        succeeded = 200 <= status_code < 300
        # Plain JSON (a DRF body holds ErrorDetail strings and ReturnDicts).
        errors = {} if succeeded else {k: v for k, v in body.items() if k in ("detail", "fields")}
        if isinstance(errors.get("fields"), dict) and len(errors["fields"]) > LOGGED_FIELDS:
            # A body may name thousands of unknown fields; the entry keeps the first ones and
            # says how many more (an entry, and a /stats/ page, stay small).
            fields = list(errors["fields"].items())
            errors["fields"] = dict(fields[:LOGGED_FIELDS])
            errors["more_fields"] = len(fields) - LOGGED_FIELDS
        username, email, phone = asked.get("username"), asked.get("email"), asked.get("phone")
        login = str(body.get("login", "")) if succeeded else ""
        return RegistrationRequest(
            created_at=created_at,
            status_code=status_code,
            outcome=outcome_for(status_code, str(body.get("code", ""))),
            duration_ms=round(duration_ms, 2),
            request_id=get_guid() or "",
            method=request.method or "",
            error_codes=[] if succeeded else error_codes(body)[:LOGGED_FIELDS],
            errors=json.loads(json.dumps(errors, default=str)),
            login=mask_login(username.strip()[:150] if isinstance(username, str) else ""),
            email_masked=mask_email(email if isinstance(email, str) else ""),
            phone_masked=mask_phone(phone if isinstance(phone, str | int) and not isinstance(phone, bool) else ""),
            client_address=client_address(request),
            user_agent=header_text(request.META.get("HTTP_USER_AGENT", ""))[:200],
            user_id=user_id_by_login(login=login) if login else None,
        )
