"""Request-wide middleware: the body size limit (request ids: django-guid, see settings.DJANGO_GUID)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class BodySizeLimitMiddleware:
    """Refuses bodies over MAX_BODY_SIZE (or the limit LARGE_BODY_PATHS names for the path)
    with a 413 before anything reads them.

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
        limit_name = getattr(settings, "LARGE_BODY_PATHS", {}).get(request.path, "MAX_BODY_SIZE")
        limit = getattr(settings, limit_name)
        if length > limit:
            return JsonResponse(
                {
                    "code": "request_too_large",
                    "detail": f"The request body is {length} bytes; at most {limit} are accepted ({limit_name}).",
                },
                status=413,
            )
        return self.get_response(request)
