"""Robot writes: the catalog, and ingest from the production lines (single and batch)."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import NoReturn, TypeVar

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import events
from core.exceptions import ApplicationError, Conflict
from core.guards import DateTimeInputError, parse_datetime_input
from robots.events import RobotsProduced
from robots.models import Robot, RobotModel, RobotVersion

ROBOT_FIELDS = ("model", "version", "created")
ROBOT_FIELD_SET = frozenset(ROBOT_FIELDS)
T = TypeVar("T")
MAX_BATCH_SIZE = 1000


# --- the catalog ---------------------------------------------------------------------------
@transaction.atomic
def robot_model_create(*, code: str, name: str = "", versions: list[str] | None = None) -> RobotModel:
    robot_model = RobotModel(code=code, name=name)
    robot_model.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            robot_model.save()
    except IntegrityError:
        raise Conflict(
            f"Robot model {code!r} already exists.", code="duplicate", fields={"code": ["This model exists already."]}
        ) from None
    for version in versions or []:
        robot_version_create(robot_model=robot_model, code=version)
    return robot_model


@transaction.atomic
def robot_version_create(*, robot_model: RobotModel, code: str) -> RobotVersion:
    robot_version = RobotVersion(model=robot_model, code=code)
    robot_version.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            robot_version.save()
    except IntegrityError:
        raise Conflict(
            f"Version {code!r} of model {robot_model.code!r} already exists.",
            code="duplicate",
            fields={"code": ["This version exists already."]},
        ) from None
    return robot_version


# --- ingest --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RobotInput:
    robot_version_id: int
    model: str
    version: str
    created: datetime

    @property
    def serial(self) -> str:
        return f"{self.model}-{self.version}"


class CatalogCache:
    """(model code, version code) -> version id, kept per process for a few seconds.

    Every robot is checked against the catalog, and the catalog hardly ever changes, so the
    hot path does not ask the database each time. A robot naming something the cached copy
    lacks is checked again against the database before it is refused, so a model or
    version added a moment ago is never rejected.
    """

    def __init__(self, ttl_seconds: float):
        self.ttl_seconds = ttl_seconds
        self._versions: dict[tuple[str, str], int] = {}
        self._loaded_at = float("-inf")

    def get(self, *, fresh: bool = False) -> tuple[dict[tuple[str, str], int], bool]:
        """The catalog, and whether it was just read from the database."""
        if fresh or time.monotonic() - self._loaded_at > self.ttl_seconds:
            self._versions = {(m, v): pk for pk, m, v in RobotVersion.objects.values_list("pk", "model__code", "code")}
            self._loaded_at = time.monotonic()
            return self._versions, True
        return self._versions, False

    def clear(self) -> None:
        self._loaded_at = float("-inf")


catalog_cache = CatalogCache(ttl_seconds=30)


def _parse_all(items: list, *, fresh: bool = False) -> tuple[list[RobotInput], dict[str, dict]]:
    """Parses every item; a catalog miss against the cached copy is retried on a fresh one."""
    catalog, fresh = catalog_cache.get(fresh=fresh)
    while True:
        context = ParseContext.build(catalog)
        inputs, errors = [], {}
        for index, raw in enumerate(items):
            robot_input, item_errors = robot_input_parse(raw, context=context)
            if item_errors:
                errors[str(index)] = item_errors
            else:
                inputs.append(robot_input)
        catalog_missed = any("model" in item_errors or "version" in item_errors for item_errors in errors.values())
        if fresh or not catalog_missed:
            return inputs, errors
        catalog, fresh = catalog_cache.get(fresh=True)


@dataclass(frozen=True)
class ParseContext:
    """What checking a robot needs, worked out once per request rather than once per robot."""

    catalog: dict[tuple[str, str], int]
    latest_allowed: datetime  # now plus the production lines' clock skew
    factory_tz: tzinfo

    @classmethod
    def build(cls, catalog: dict[tuple[str, str], int]) -> "ParseContext":
        return cls(
            catalog=catalog,
            latest_allowed=timezone.now() + timedelta(seconds=settings.ROBOT_CLOCK_SKEW),
            factory_tz=timezone.get_default_timezone(),
        )


def _parse_created(value, context: ParseContext) -> tuple[datetime | None, str | None]:
    try:
        # The one datetime input of the API (core.guards): documented forms only, years
        # 2000–2100, offsets within ±14:00, and not beyond now plus the clock skew.
        return parse_datetime_input(
            value,
            default_timezone=context.factory_tz,
            not_after=context.latest_allowed,
            not_after_message="A robot cannot be finished in the future.",
        ), None
    except DateTimeInputError as exc:
        return None, exc.message


def robot_input_parse(raw, *, context: ParseContext) -> tuple[RobotInput | None, dict]:
    """Validates one robot from a production line; returns it, or the errors by field.

    Written without a DRF serializer: the batch endpoint runs it a thousand times a request.
    """
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["Each robot must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    if len(raw) != ("model" in raw) + ("version" in raw) + ("created" in raw):
        for unknown in sorted(map(str, set(raw) - ROBOT_FIELD_SET)):
            errors[unknown[:50]] = ["Unknown field."]
    model, version = raw.get("model"), raw.get("version")
    for field, value in (("model", model), ("version", version)):
        if value is None:
            errors[field] = ["This field is required."]
        elif not isinstance(value, str):
            errors[field] = ["Must be a string."]
        elif len(value) != 2 or not value.isascii() or not value.isalnum():
            errors[field] = ["Must be exactly two letters or digits."]
    created = raw.get("created")
    if created is None:
        errors["created"] = ["This field is required."]
    else:
        created, error = _parse_created(created, context)
        if error:
            errors["created"] = [error]
    if "model" not in errors and "version" not in errors:
        version_id = context.catalog.get((model, version))
        if version_id is None:
            if not any(known_model == model for known_model, _ in context.catalog):
                errors["model"] = [f"Unknown robot model {model!r}."]
            else:
                errors["version"] = [f"Model {model!r} has no version {version!r}."]
    if errors:
        return None, errors
    return RobotInput(robot_version_id=version_id, model=model, version=version, created=created), {}


def robot_create(*, data) -> Robot:
    """Records one robot and announces it (RobotsProduced: orders reserve it for a waiting
    order before the commit); raises a 400 naming each rejected field.

    The hot path of the production lines, so it costs one statement: the INSERT itself checks
    that the robot's version still exists (a version deleted since the catalog was cached
    inserts nothing, and the robot is checked once more against a fresh catalog), and no
    savepoint is needed since nothing here is expected to fail and be recovered from. Inside
    the request's transaction this joins it; called alone it is a transaction of its own.
    """

    def reject(errors: dict) -> NoReturn:
        raise ApplicationError("The robot was rejected; see `fields`.", code="invalid", fields=errors["0"])

    for attempt in (1, 2):
        inputs, errors = _parse_all([data], fresh=attempt == 2)
        if errors:
            reject(errors)
        with transaction.atomic(savepoint=False):
            robot = _insert_robot(inputs[0])
            if robot is not None:
                events.publish(RobotsProduced(serials=frozenset({robot.serial}), count=1))
                return robot
        catalog_cache.clear()
    # Deleted again between the fresh read of the catalog and the INSERT.
    item = inputs[0]
    reject({"0": {"version": [f"Model {item.model!r} has no version {item.version!r}."]}})


def robots_create_batch(*, items) -> int:
    """Records up to MAX_BATCH_SIZE robots, all or nothing; errors are keyed by item index."""
    if not isinstance(items, list):
        raise ApplicationError(
            "The body must be a JSON array of robots.",
            code="invalid",
            fields={"non_field_errors": ["Expected a list."]},
        )
    if not items:
        raise ApplicationError("The batch is empty.", code="invalid", fields={"non_field_errors": ["Empty list."]})
    if len(items) > MAX_BATCH_SIZE:
        raise ApplicationError(
            f"A batch holds at most {MAX_BATCH_SIZE} robots; this one has {len(items)}.",
            code="batch_too_large",
            fields={"non_field_errors": [f"At most {MAX_BATCH_SIZE} items."]},
        )

    def reject(errors: dict) -> NoReturn:
        raise ApplicationError(
            f"{len(errors)} of {len(items)} robots were rejected; nothing was recorded. See `fields` by index.",
            code="invalid",
            fields=errors,
        )

    _record(items, insert=_copy_robots, reject=reject)
    return len(items)


_ROBOT_COLUMNS = ("robot_version", "serial", "model", "version", "created", "created_at")


def _robot_columns() -> str:
    """The ingest's columns, quoted, in _ROBOT_COLUMNS' order (names from the model)."""
    quote = connection.ops.quote_name
    return ", ".join(quote(Robot._meta.get_field(name).column) for name in _ROBOT_COLUMNS)


_insert_sql: str | None = None


def _insert_robot(item: RobotInput) -> Robot | None:
    """One `INSERT … SELECT … WHERE EXISTS (its version) RETURNING id`, its SQL built once per
    process (Model.objects.create compiles the statement and sends signals nobody listens
    to); None when the version is gone. The foreign key, deferred, still holds at the commit
    should the version be deleted by a transaction that commits after this statement began.
    """
    global _insert_sql
    if _insert_sql is None:
        quote = connection.ops.quote_name
        version = RobotVersion._meta
        _insert_sql = (
            f"INSERT INTO {quote(Robot._meta.db_table)} ({_robot_columns()}) "  # noqa: S608 (names from the models)
            f"SELECT %s, %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM {quote(version.db_table)} "
            f"WHERE {quote(version.pk.column)} = %s) RETURNING {quote(Robot._meta.pk.column)}"
        )
    now = timezone.now()
    values = (item.robot_version_id, item.serial, item.model, item.version, item.created, now)
    # Prepared: PostgreSQL does not parse and plan it again for every robot.
    with connection.prepared_cursor() as cursor:
        cursor.execute(_insert_sql, (*values, item.robot_version_id))
        row = cursor.fetchone()
    if row is None:
        return None
    return Robot.from_db(
        connection.alias,
        ["id", "robot_version_id", "serial", "model", "version", "created", "created_at"],
        (row[0], *values),
    )


def _copy_robots(items: list[RobotInput]) -> None:
    """One COPY for the whole batch: the fastest way PostgreSQL takes many rows (names from the model)."""
    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(Robot._meta.db_table)} ({_robot_columns()}) FROM STDIN"
        ) as copy,
    ):
        for item in items:
            copy.write_row((item.robot_version_id, item.serial, item.model, item.version, item.created, now))


def _record(items: list, *, insert: Callable[[list[RobotInput]], T], reject: Callable[[dict], NoReturn]) -> T:
    """Validates and inserts robots in one transaction, all or nothing, and announces them in it
    (RobotsProduced: orders reserve them for waiting orders before the commit).

    Should a version have been deleted since the catalog was cached, the insert fails on
    its foreign key: the cache is dropped and the robots are checked once more, afresh.
    """
    for attempt in (1, 2):
        inputs, errors = _parse_all(items, fresh=attempt == 2)
        if errors:
            reject(errors)
        try:
            with transaction.atomic():
                inserted = insert(inputs)
                # The foreign key is deferred, and this block may be a savepoint of the
                # request's transaction (core.transactions): check it here, not at its commit.
                connection.check_constraints(table_names=[Robot._meta.db_table])
                events.publish(RobotsProduced(serials=frozenset(item.serial for item in inputs), count=len(inputs)))
        except IntegrityError:
            catalog_cache.clear()
            if attempt == 2:
                raise
            continue
        return inserted
    raise AssertionError("unreachable")
