"""Which field a violated database constraint is about, read from the models and from
PostgreSQL's own report of the violation (psycopg's `diag`), for a 409/400 naming it."""

import functools
import re
from dataclasses import dataclass

from django.apps import apps
from django.db import IntegrityError, models
from django.db.models.expressions import F
from rest_framework.settings import api_settings

UNIQUE_VIOLATION, FOREIGN_KEY_VIOLATION, CHECK_VIOLATION, NOT_NULL_VIOLATION, EXCLUSION_VIOLATION = (
    "23505",
    "23503",
    "23514",
    "23502",
    "23P01",
)
# "Key (lower(email::text))=(...) already exists." -> the identifiers inside "Key (...)".
_DETAIL_KEY = re.compile(r"Key \((?P<columns>.*?)\)=\(")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class ConstraintViolation:
    status_code: int
    code: str
    detail: str
    field: str
    message: str
    constraint: str = ""
    table: str = ""


def constraint_violation(exc: IntegrityError) -> ConstraintViolation:
    """Reads an IntegrityError raised by PostgreSQL into what the API answers."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    sqlstate = getattr(cause, "sqlstate", None) or ""
    table = getattr(diag, "table_name", None) or ""
    constraint = getattr(diag, "constraint_name", None) or ""
    column = getattr(diag, "column_name", None) or ""
    detail = getattr(diag, "message_detail", None) or ""
    model = _models_by_table().get(table)
    field = _field_of(model, table=table, constraint=constraint, column=column, detail=detail)
    if sqlstate in (UNIQUE_VIOLATION, EXCLUSION_VIOLATION):
        return ConstraintViolation(
            409, "duplicate", "A conflicting record exists; see `fields`.", field, "Already in use.", constraint, table
        )
    if sqlstate == FOREIGN_KEY_VIOLATION:
        return ConstraintViolation(
            409,
            "conflict",
            "The request conflicts with related records; see `fields`.",
            field,
            "Refers to a record that does not exist, or is still referred to.",
            constraint,
            table,
        )
    if sqlstate == NOT_NULL_VIOLATION:
        return ConstraintViolation(
            400,
            "invalid",
            "The request was rejected; see `fields`.",
            field,
            "This field is required.",
            constraint,
            table,
        )
    return ConstraintViolation(
        400,
        "invalid",
        "The request was rejected; see `fields`.",
        field,
        "This value is not accepted.",
        constraint,
        table,
    )


@functools.cache
def _models_by_table() -> dict[str, type[models.Model]]:
    return {model._meta.db_table: model for model in apps.get_models(include_auto_created=True)}


def _field_name(model: type[models.Model] | None, column: str) -> str | None:
    if model is None:
        return None
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field.name
    return None


def _one_field(names: set[str]) -> str:
    return next(iter(names)) if len(names) == 1 else api_settings.NON_FIELD_ERRORS_KEY


def _field_of(model, *, table: str, constraint: str, column: str, detail: str) -> str:
    if column:  # not-null violations name the column
        return _field_name(model, column) or column
    if model is not None:
        declared = constraint_fields(model).get(constraint)
        if declared:
            return _one_field(declared)
    if match := _DETAIL_KEY.search(detail):
        columns = set(_IDENTIFIER.findall(match["columns"]))
        names = {name for name in (_field_name(model, c) for c in columns) if name}
        if names:
            return _one_field(names)
    if model is not None and constraint.startswith(f"{table}_") and constraint.endswith(("_key", "_check")):
        # PostgreSQL's own names: <table>_<column>_key (unique=True), <table>_<column>_check.
        name = _field_name(model, constraint[len(table) + 1 :].rsplit("_", 1)[0])
        if name:
            return name
    return api_settings.NON_FIELD_ERRORS_KEY


@functools.cache
def constraint_fields(model: type[models.Model]) -> dict[str, set[str]]:
    """Each constraint declared in `model.Meta.constraints` -> the fields it is about.

    A check constraint is about the fields its conditions test (`end_at__gt=F("start_at")`
    is about `end_at`); a unique constraint about its fields or the fields its expressions
    read (`Lower("email")`).
    """
    result = {}
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.CheckConstraint):
            result[constraint.name] = _q_fields(constraint.condition)
        elif isinstance(constraint, models.UniqueConstraint):
            names = set(constraint.fields)
            for expression in constraint.expressions:
                names |= {node.name for node in expression.flatten() if isinstance(node, F)}
            result[constraint.name] = {name.split("__")[0] for name in names}
    return result


def _q_fields(condition: models.Q) -> set[str]:
    names = set()
    for child in condition.children:
        if isinstance(child, models.Q):
            names |= _q_fields(child)
        else:
            names.add(child[0].split("__")[0])
    return names
