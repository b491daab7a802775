"""Request-wide middleware: request ids and the body size limit."""

import re
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.logging import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes the caller's (nginx's) X-Request-ID when it is sane, otherwise makes one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class BodySizeLimitMiddleware:
    """Refuses bodies over MAX_BODY_SIZE with a 413 before anything reads them.

    Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE only when `request.body` is read, while DRF
    parses from the stream, so the declared length is checked here for every request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"code": "invalid_content_length", "detail": "Content-Length must be a whole number."}, status=400
            )
        if length > settings.MAX_BODY_SIZE:
            return JsonResponse(
                {
                    "code": "request_too_large",
                    "detail": f"The request body is {length} bytes; at most {settings.MAX_BODY_SIZE} are accepted.",
                },
                status=413,
            )
        return self.get_response(request)
