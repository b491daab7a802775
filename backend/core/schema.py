"""OpenAPI schema generation tweaks shared by every API."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:
        # APIs nest `InputSerializer`/`OutputSerializer`; name their components after the
        # API (`TokenCreateApi.OutputSerializer` -> `TokenCreateOutput`) so they never clash.
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer:
            return outer.split(".")[-1].removesuffix("Api") + inner
        return super().get_serializer_name(serializer, direction)


ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape of the API.",
    "properties": {
        "code": {"type": "string", "example": "invalid"},
        "detail": {"type": "string", "example": "The request was rejected; see `fields`."},
        "fields": {
            "type": "object",
            "additionalProperties": True,
            "description": "Each rejected field (or batch index) and what is wrong with it.",
        },
    },
    "required": ["code", "detail"],
}
ERROR_RESPONSES = {
    "400": "The request was rejected: malformed JSON, or invalid fields (named in `fields`).",
    "401": "No or invalid credentials.",
    "403": "The account has no role that allows this operation.",
    "404": "No such object.",
    "405": "The method is not allowed here.",
    "409": "A conflict: a duplicate, a state that forbids the change, or an Idempotency-Key reused.",
    "413": "The request body is larger than MAX_BODY_SIZE.",
    "415": "The request body's content type is not one this operation takes.",
    "429": "Throttled; try again after `Retry-After` seconds.",
    "503": "A dependency (the database) is unavailable; try again after `Retry-After` seconds.",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: every operation documents the errors it may answer
    with, in the one error shape (core.exceptions)."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    retry_after = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    responses = components.setdefault("responses", {})
    for code, description in ERROR_RESPONSES.items():
        response = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if code in ("429", "503"):
            response["headers"] = retry_after
        responses[f"Error{code}"] = response
    # Answered before the application, by the web server (gunicorn's limit_request_line, nginx's
    # large_client_header_buffers): its own HTML page, not the Error shape.
    responses["Error414"] = {
        "description": "The request line (method, path and query string) is longer than 8,190 bytes; "
        "answered by the web server as an HTML page.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for code in [*ERROR_RESPONSES, "414"]:
                operation["responses"].setdefault(code, {"$ref": f"#/components/responses/Error{code}"})
    return result
