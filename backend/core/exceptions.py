"""One error shape for the whole API.

Every error body is `{"code": ..., "detail": ...}`; validation errors add `fields`, a map
from each offending field (or item index) to what is wrong with it.

A database constraint the API failed to check first is still answered in that shape, never
as a 500: a unique or foreign-key violation is a 409, a check or not-null violation a 400,
naming the field the constraint is about (core.constraints); a value PostgreSQL cannot
store (DataError) is a 400. Both are logged as errors: each is a check the API lacks.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class ApplicationError(exceptions.APIException):
    """A business rule said no: raised by services, rendered with its own code and status."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, status_code: int | None = None, fields=None):
        super().__init__(detail=detail, code=code or self.default_code)
        if status_code is not None:
            self.status_code = status_code
        self.code = code or self.default_code
        self.fields = fields


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "A service this request needs is unavailable; try again shortly."


def exception_handler(exc, context) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, (OperationalError, InterfaceError)):
        # The database went away mid-request: the caller may retry; nothing was committed.
        logger.warning("database unavailable: %s", exc)
        exc = ServiceUnavailable()
    elif isinstance(exc, IntegrityError):
        exc = constraint_violation_error(exc)
    elif isinstance(exc, DataError):
        logger.error("a value reached PostgreSQL that it cannot store: %s", exc, exc_info=exc)
        exc = ApplicationError(
            "A value was refused by the database; see `fields`.",
            code="invalid",
            fields={"non_field_errors": ["A value is out of the range or the character set the database stores."]},
        )
    elif isinstance(exc, DatabaseError):
        return None  # a real bug: let Django log it and answer 500

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "detail": "The request was rejected; see `fields`.", "fields": _fields(exc.detail)}
    elif isinstance(exc, ApplicationError):
        body = {"code": exc.code, "detail": str(exc.detail)}
        if exc.fields is not None:
            body["fields"] = exc.fields
    else:
        codes = exc.get_codes()
        body = {"code": codes if isinstance(codes, str) else "error", "detail": str(exc.detail)}
    if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.data = body
    return response


def constraint_violation_error(exc: IntegrityError) -> ApplicationError:
    """The 409 or 400 for a constraint the database enforced, naming the field it is about."""
    from core.constraints import constraint_violation

    violation = constraint_violation(exc)
    logger.error(
        "constraint %s of %s was enforced by the database, not checked by the API first",
        violation.constraint or "?",
        violation.table or "?",
        exc_info=exc,
    )
    error = Conflict if violation.status_code == status.HTTP_409_CONFLICT else ApplicationError
    return error(violation.detail, code=violation.code, fields={violation.field: [violation.message]})


def database_error_response(exc: IntegrityError | DataError) -> JsonResponse:
    """The one error shape for a constraint or a value the database refused outside a view's
    own handling (at the commit of the request's transaction, core.transactions)."""
    response = exception_handler(exc, {})
    return JsonResponse(response.data, status=response.status_code)


def service_unavailable_response() -> JsonResponse:
    """The 503 of the one error shape, for a database lost outside a view's own handling."""
    response = JsonResponse(
        {"code": ServiceUnavailable.default_code, "detail": str(ServiceUnavailable.default_detail)}, status=503
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def invalid_input_response(fields: dict) -> JsonResponse:
    """The 400 of the one error shape, for input refused before any view (core.guards)."""
    return JsonResponse(
        {"code": "invalid", "detail": "The request was rejected; see `fields`.", "fields": fields}, status=400
    )


def _fields(detail):
    """A ValidationError's detail, with a bare list (a non-object body) under `non_field_errors`."""
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return detail


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)


def json_server_error(request) -> JsonResponse:
    return JsonResponse({"code": "server_error", "detail": "Internal server error."}, status=500)


def json_bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse({"code": "bad_request", "detail": "Bad request."}, status=400)
