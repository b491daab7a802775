"""How a seed-era route works: it forwards the request to the v1 view it stands for (its
successor), translating the old field names to the new ones on the way in and back on the
way out, and marks every answer deprecated (RFC 9745 `Deprecation`, RFC 8288 `Link`).

The successor does the work exactly as on v1: its authentication, role, parsing, checks,
idempotency, services and serializers, so no rule is written twice. The legacy view itself
checks the same token and role first (its `roles` are read from the successor), so a
refusal names the legacy route and carries the deprecation headers too.
"""

import functools
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from django.http import HttpRequest, HttpResponseBase, QueryDict
from django.urls import resolve, reverse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.permissions import roles_for_method

# RFC 9745: when the seed-era routes were deprecated -- 2026-11-23 00:00 UTC, the day the
# /api/v1/ API that replaces them was first released. A structured-field date: "@<unix seconds>".
DEPRECATED_AT = datetime(2026, 11, 23, tzinfo=UTC)
DEPRECATION_HEADER = f"@{int(DEPRECATED_AT.timestamp())}"

# The seed mailer's field and query parameter names -> v1's (mailings, messages, statistics).
MAILER_NAMES = {
    "start_datetime": "start_at",
    "end_datetime": "end_at",
    "message_text": "text",
    "client": "customer",
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def rename_keys(data: Any, names: Mapping[str, str]) -> Any:
    """`data` with every mapping key found in `names` renamed, at any depth (lists and nested
    objects included: a statistics page nests mailings and messages, an error body its `fields`)."""
    if isinstance(data, Mapping):
        return {names.get(key, key): rename_keys(value, names) for key, value in data.items()}
    if isinstance(data, list):
        return [rename_keys(item, names) for item in data]
    return data


def inverted(names: Mapping[str, str]) -> dict[str, str]:
    return {new: old for old, new in names.items()}


def reworded(data: Any, names: Mapping[str, str]) -> Any:
    """An error body whose messages say the field names in `names`' terms too ("end_at must
    be after start_at" -> "end_datetime must be after start_datetime"): whole words only."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    if isinstance(data, str):
        return pattern.sub(lambda match: names[match.group(1)], data)
    if isinstance(data, Mapping):
        return {key: reworded(value, names) for key, value in data.items()}
    if isinstance(data, list):
        return [reworded(item, names) for item in data]
    return data


@functools.cache
def successor_view_class(url_name: str, detail: bool) -> type[APIView]:
    """The view class routed under a v1 URL name (resolved once the URLconf is loaded)."""
    return resolve(reverse(url_name, kwargs={"id": 1} if detail else None)).func.cls


class SuccessorRoles:
    """A legacy view's `roles` (core.permissions.HasRole): the successor's. Where those are
    given per method, for each method the legacy view has, the roles of its
    `successor_methods` counterpart (by default the same method), and none for the methods
    only v1 has. Read on the class too, as the layout test does."""

    def __get__(self, instance, owner) -> dict[str, tuple[str, ...]] | tuple[str, ...]:
        successor_roles = successor_view_class(owner.successor, owner.detail).roles
        if not isinstance(successor_roles, dict):
            return successor_roles  # the same roles for every method: a missing one is a 405
        return {
            method: roles_for_method(successor_roles, owner.successor_methods.get(method, method))
            for method in owner.legacy_methods()
        }


class DeprecatedMixin:
    """Every answer of a legacy view, refusals included, says it is deprecated and where the
    successor is."""

    def successor_url(self) -> str:
        raise NotImplementedError

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Deprecation"] = DEPRECATION_HEADER
        response["Link"] = f'<{self.successor_url()}>; rel="successor-version"'
        return response


class LegacyApi(DeprecatedMixin, APIView):
    """Base of a seed-era route. A subclass names its `successor` (a v1 URL name; `detail`
    when both take the `{id}`), the `names` it translates (legacy -> v1) and defines the
    methods it has, usually as `forward`."""

    successor: str
    detail = False
    names: Mapping[str, str] = {}
    successor_methods: Mapping[str, str] = {}  # legacy method -> the successor's whose roles apply
    # Answers errors in JSON whatever Accept says, as the v1 file downloads do.
    force_json_errors = False
    # The body is parsed here before it is forwarded: to translate it, or for `check_input`.
    checks_input = False
    # The hook legacy.schema builds the operation from the successor's (False: the view's own).
    schema_from_successor = True
    extra_request_properties: dict = {}  # OpenAPI properties the legacy body adds to v1's
    extra_request_example: dict = {}
    roles = SuccessorRoles()

    @classmethod
    def legacy_methods(cls) -> list[str]:
        return [m.upper() for m in cls.http_method_names if m not in ("head", "options") and hasattr(cls, m)]

    def successor_url(self) -> str:
        return reverse(self.successor, kwargs={"id": self.kwargs["id"]} if self.detail else None)

    def initialize_request(self, request: HttpRequest, *args, **kwargs) -> Request:
        # Read the body once, up front: Django keeps it, so this view and the successor can
        # each parse it (a stream would be empty the second time).
        request.body  # noqa: B018
        return super().initialize_request(request, *args, **kwargs)

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=force or self.force_json_errors)

    def check_input(self, data: Any) -> Any:
        """The legacy body's own rule (views with `checks_input`), before translation: raises
        ValidationError (a 400) or returns the body to forward. By default the body as it is."""
        return data

    def forward(self, request: Request, *args, **kwargs) -> HttpResponseBase:
        """Hands the request to the successor, in v1's names, and translates its answer back."""
        return self.call_successor(request, self.successor, kwargs if self.detail else {})

    def call_successor(self, request: Request, url_name: str, kwargs: dict) -> HttpResponseBase:
        raw = request._request
        if request.method in WRITE_METHODS and (self.names or self.checks_input):
            data = self.check_input(request.data)  # parsed and guarded as the successor would
            if request.content_type.startswith("application/json"):
                replace_json_body(raw, rename_keys(data, self.names))
        if self.names:
            raw.GET = renamed_query(raw.GET, self.names)
        match = resolve(reverse(url_name, kwargs=kwargs or None))
        response = match.func(raw, *match.args, **match.kwargs)
        if self.names and isinstance(response, Response) and response.data is not None:
            response.data = rename_keys(response.data, inverted(self.names))
            if response.status_code >= 400:
                response.data = reworded(response.data, inverted(self.names))
        return response


def replace_json_body(request: HttpRequest, data: Any) -> None:
    """Gives `request` a new JSON body (the successor parses it as it would the client's)."""
    body = json.dumps(data).encode()
    request._body = body
    request._stream = BytesIO(body)
    request.META["CONTENT_LENGTH"] = str(len(body))


def renamed_query(query: QueryDict, names: Mapping[str, str]) -> QueryDict:
    """The query parameters in v1's names. The request's own query string is left as it is,
    so the successor's pagination links keep the legacy names."""
    renamed = QueryDict(mutable=True)
    for key, values in query.lists():
        renamed.setlist(names.get(key, key), values)
    renamed._mutable = False
    return renamed
