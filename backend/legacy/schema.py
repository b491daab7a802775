"""The seed-era operations in the schema: each is its v1 successor's operation, deprecated,
tagged `legacy`, in the legacy names (fields, query parameters, examples), so what the
schema says a legacy route takes and answers is what v1 takes and answers, translated."""

import copy
import re
from typing import Any

from django.urls import Resolver404, resolve

from legacy.aliases import DEPRECATED_AT, DEPRECATION_HEADER, LegacyApi, inverted, rename_keys

REF_PREFIX = "#/components/schemas/"
RESPONSE_HEADERS = {
    "Deprecation": {
        "schema": {"type": "string", "example": DEPRECATION_HEADER},
        "description": f"RFC 9745: deprecated since {DEPRECATED_AT:%Y-%m-%d} (a structured-field date).",
    },
    "Link": {
        "schema": {"type": "string", "example": '</api/v1/mailings/>; rel="successor-version"'},
        "description": "The v1 operation that replaces this one.",
    },
}


def legacy_operations(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: replaces each seed-era operation whose view
    says `schema_from_successor` with its successor's, translated."""
    from legacy.urls import urlpatterns  # the hook runs once the URLconf is loaded

    paths = result.get("paths", {})
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    by_url_name = _paths_by_url_name(paths)
    for pattern in urlpatterns:
        view = getattr(pattern.callback, "cls", None)
        if not (isinstance(view, type) and issubclass(view, LegacyApi) and view.schema_from_successor):
            continue
        legacy_path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        successor_path = by_url_name[view.successor]
        translator = Translator(schemas, inverted(view.names))
        for method in view.legacy_methods():
            source = paths[successor_path][view.successor_methods.get(method, method).lower()]
            operation = translator.walk(copy.deepcopy(source))
            operation.update(
                operationId="legacy_" + re.sub(r"\W+", "_", legacy_path).strip("_") + f"_{method.lower()}",
                tags=["legacy"],
                deprecated=True,
                summary=f"{source.get('summary', '')} (seed-era alias of {method} {successor_path})".strip(),
                description=(
                    f"Deprecated: use `{method} {successor_path}`. The same token and role; "
                    + (
                        "the old field names: " + ", ".join(f"`{old}` for `{new}`" for old, new in view.names.items())
                        if view.names
                        else "the same fields"
                    )
                    + '. Every answer carries `Deprecation` and `Link: <successor>; rel="successor-version"`.'
                ),
            )
            if view.extra_request_properties:
                _add_request_properties(operation, schemas, view)
            for response in operation.get("responses", {}).values():
                if "$ref" not in response:
                    response.setdefault("headers", {}).update(copy.deepcopy(RESPONSE_HEADERS))
            paths.setdefault(legacy_path, {})[method.lower()] = operation
    return result


def _add_request_properties(operation: dict, schemas: dict, view: type[LegacyApi]) -> None:
    """The legacy body takes fields v1 has not (the serial of /api/create_robot): its request
    is a copy of the successor's with them, and its examples show them."""
    name = f"Legacy{view.__name__.removesuffix('Api')}Request"
    for content in operation.get("requestBody", {}).get("content", {}).values():
        schema = content.get("schema", {})
        base = schemas[schema["$ref"].removeprefix(REF_PREFIX)] if "$ref" in schema else schema
        schemas[name] = copy.deepcopy(base)
        schemas[name].setdefault("properties", {}).update(copy.deepcopy(view.extra_request_properties))
        content["schema"] = {"$ref": REF_PREFIX + name}
        for example in content.get("examples", {}).values():
            if isinstance(example.get("value"), dict):
                example["value"] = {**view.extra_request_example, **example["value"]}


def _paths_by_url_name(paths: dict) -> dict[str, str]:
    found = {}
    for path in paths:
        try:
            match = resolve(re.sub(r"\{[^}]+\}", "1", path))
        except Resolver404:
            continue
        found.setdefault(match.url_name, path)
    return found


class Translator:
    """Renames fields (v1 -> legacy) in operations and in copies of the components they use:
    a component holding a renamed field, directly or through another, is copied as
    `Legacy<name>`; the others are shared with v1."""

    def __init__(self, schemas: dict, names: dict[str, str]):
        self.schemas = schemas
        self.names = names
        self._needs_copy: dict[str, bool] = {}

    def walk(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = self.ref(value)
            elif key == "properties" and isinstance(value, dict):
                out[key] = {self.names.get(name, name): self.walk(schema) for name, schema in value.items()}
            elif key == "required" and isinstance(value, list):
                out[key] = [self.names.get(name, name) for name in value]
            elif key == "examples" and isinstance(value, dict):
                out[key] = {
                    name: {**example, "value": rename_keys(example["value"], self.names)}
                    if isinstance(example, dict) and "value" in example
                    else example
                    for name, example in value.items()
                }
            elif key == "example":
                out[key] = rename_keys(value, self.names)
            else:
                out[key] = self.walk(value)
        if out.get("in") == "query" and out.get("name") in self.names:
            out["name"] = self.names[out["name"]]
        return out

    def ref(self, ref: str) -> str:
        if not ref.startswith(REF_PREFIX) or not self.names:
            return ref
        name = ref.removeprefix(REF_PREFIX)
        if not self.needs_copy(name):
            return ref
        legacy = f"Legacy{name}"
        if legacy not in self.schemas:
            self.schemas[legacy] = {}  # reserved first: a component may refer to itself
            self.schemas[legacy] = self.walk(copy.deepcopy(self.schemas[name]))
        return REF_PREFIX + legacy

    def needs_copy(self, name: str) -> bool:
        if name not in self._needs_copy:
            self._needs_copy[name] = False  # a cycle adds nothing
            self._needs_copy[name] = self._mentions_names(self.schemas.get(name, {}))
        return self._needs_copy[name]

    def _mentions_names(self, node: Any) -> bool:
        if isinstance(node, list):
            return any(self._mentions_names(item) for item in node)
        if not isinstance(node, dict):
            return False
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                found = self.needs_copy(value.removeprefix(REF_PREFIX))
            else:
                renamed = key == "properties" and isinstance(value, dict) and bool(set(value) & set(self.names))
                found = renamed or self._mentions_names(value)
            if found:
                return True
        return False
