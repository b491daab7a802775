"""Registration writes: useradd (a self-provisioned account with a generated password) and the
registration request log (an entry per request, spooled while the database is unreachable,
set aside when the database refuses it, replayed)."""

import json
import logging
import math
import os
import secrets
import string
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import ValidationError
from django.db import DatabaseError, DataError, IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.selectors import user_exists
from accounts.services import user_create
from core.guards import escape_control_characters
from core.phones import phone_normalize
from registrations.metrics import registration_request_spooled_count
from registrations.models import RegistrationRequest

logger = logging.getLogger(__name__)

# --- useradd -----------------------------------------------------------------------------
PASSWORD_LENGTH = 20
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.!@#%+="
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
CONTACT_REQUIRED = "Give at least one of phone and email."


def password_generate(length: int = PASSWORD_LENGTH) -> str:
    """A random password from the OS's secure generator, with a lower, an upper case letter and a digit."""
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


def account_register(
    *,
    name: str,
    username: str,
    email: str = "",
    phone: str = "",
    birth_date: date | None = None,
    today: date | None = None,
):
    """Creates a self-provisioned account with no role (useradd); returns it and its generated
    password, which is returned this once and stored only as an Argon2 hash.

    The rules of DESIGN.md §4: at least one of `phone` and `email`; the phone is a valid number
    of country code 7, stored as 7XXXXXXXXXX (core.phones); `birth_date` lies between 1900 and
    `today` (factory time). Raises ValidationError naming every field that breaks one, and
    Conflict (`already_taken`) naming each of login, e-mail and phone in use
    (accounts.services.user_create).
    """
    errors: dict[str, list[ValidationError]] = {}
    if not phone and not email:
        errors["non_field_errors"] = [ValidationError(CONTACT_REQUIRED, code="contact_required")]
    if phone:
        try:
            phone = phone_normalize(phone)
        except ValidationError as exc:
            errors["phone"] = exc.error_list
    if birth_date is not None:
        if birth_date > (today or timezone.localdate()):
            errors["birth_date"] = [ValidationError("The birth date may not lie in the future.", code="in_future")]
        elif birth_date < EARLIEST_BIRTH_DATE:
            errors["birth_date"] = [ValidationError("The birth date must be in 1900 or later.", code="too_early")]
    if errors:
        raise ValidationError(errors)
    password = password_generate()
    user = user_create(
        username=username,
        password=password,
        name=name,
        email=BaseUserManager.normalize_email(email) if email else "",
        phone=phone or "",
        birth_date=birth_date,
    )
    return user, password


# --- the registration request log --------------------------------------------------------
# Where an entry the database refused even once cleaned is kept (inside the spool
# directory, never replayed on its own): counted in /metrics, shown to staff on /stats/.
SET_ASIDE_DIR_NAME = "set-aside"
# Spooled entries a request that reached the database writes on its way out (one by one).
INLINE_REPLAY_LIMIT = 100
# The database refused the entry for what it holds, not because it is unreachable.
CONTENT_ERRORS = (DataError, IntegrityError, ValueError, TypeError, ValidationError)
# What an entry must say to be an entry; the rest has defaults.
REQUIRED_KEYS = ("created_at", "status_code", "outcome", "duration_ms")


class LogDatabaseUnavailable(Exception):
    """The database could not take a log entry for a reason of its own (outage, restart)."""


def _values(entry: RegistrationRequest) -> dict:
    """An entry's values by attribute name (`user_id`), its primary key left out."""
    return {
        field.attname: getattr(entry, field.attname) for field in entry._meta.concrete_fields if not field.primary_key
    }


def _clean_json(value):
    if isinstance(value, str):
        return escape_control_characters(value)
    if isinstance(value, dict):
        return {escape_control_characters(str(key)): _clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(item) for item in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return escape_control_characters(str(value))  # NaN and infinities are no JSON PostgreSQL takes


def registration_request_cleaned(entry: RegistrationRequest) -> RegistrationRequest:
    """The same entry with every control character written as a visible escape (core.guards),
    in every text, in its error codes and in the keys and values of `errors`, and every text
    cut to its column: nothing of the kind reaches the log table, the log stream, the pages
    or the exports."""
    values = _values(entry)
    for field in entry._meta.concrete_fields:
        if isinstance(field, models.CharField) and values.get(field.attname) is not None:
            values[field.attname] = escape_control_characters(str(values[field.attname]))[: field.max_length]
    values["error_codes"] = [escape_control_characters(str(code))[:100] for code in values["error_codes"] or []]
    errors = values["errors"]
    values["errors"] = _clean_json(errors) if isinstance(errors, dict) else {"detail": _clean_json(errors)}
    return RegistrationRequest(**values)


def _stripped(entry: RegistrationRequest) -> RegistrationRequest:
    """The last resort before setting an entry aside: its messages reduced to text and its
    account link dropped, which are what a well-formed entry can still be refused for."""
    cleaned = registration_request_cleaned(entry)
    errors = json.dumps(entry.errors, ensure_ascii=True, default=str)[:2000]
    cleaned.errors = {"detail": escape_control_characters(errors)}
    cleaned.user_id = None
    return cleaned


def registration_request_to_json(entry: RegistrationRequest) -> str:
    """An entry as the spool keeps it: its values by attribute name, in JSON."""
    values = _values(entry)
    values["created_at"] = entry.created_at.isoformat()
    values["entry_id"] = str(entry.entry_id)
    return json.dumps(values, ensure_ascii=False, default=str)


def registration_request_from_json(text: str) -> RegistrationRequest:
    """An entry read back from the spool; raises ValueError, TypeError or KeyError for a file
    that is no entry."""
    data = json.loads(text)
    if not isinstance(data, dict) or any(key not in data for key in REQUIRED_KEYS):
        raise ValueError("not a registration request log entry")
    data["created_at"] = parse_datetime(str(data["created_at"]))
    if data["created_at"] is None:
        raise ValueError("created_at is not a date and time")
    data["entry_id"] = uuid.UUID(str(data.get("entry_id") or uuid.uuid4()))
    return RegistrationRequest(**data)


def _insert(entry: RegistrationRequest) -> bool:
    """Inserts one entry in a transaction of its own (a replayed duplicate is skipped); True
    if written, False if the database refused it for its content; raises
    LogDatabaseUnavailable when the database could not take it at all."""
    try:
        if connection.in_atomic_block:  # a savepoint, so a refused entry leaves the caller's transaction usable
            with transaction.atomic():
                _insert_row(entry)
        else:
            # After a request, in autocommit: the one statement is its own transaction, without
            # the BEGIN and COMMIT round trips of an atomic block (useradd's hot path).
            _insert_row(entry)
    except CONTENT_ERRORS as exc:
        logger.warning("registration request log entry %s refused for its content: %s", entry.entry_id, exc)
        return False
    except DatabaseError as exc:
        raise LogDatabaseUnavailable(str(exc)) from exc
    return True


def _insert_row(entry: RegistrationRequest) -> None:
    """`INSERT … ON CONFLICT DO NOTHING` of every column but the id (names and values prepared
    by the model's fields, as bulk_create(ignore_conflicts=True) does)."""
    meta = RegistrationRequest._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING"
    )
    values = [field.get_db_prep_save(field.pre_save(entry, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def _write(entry: RegistrationRequest) -> bool:
    """Writes an entry as it is, else cleaned down to what any entry can be; False if even
    that was refused (the caller sets it aside). Raises LogDatabaseUnavailable."""
    return _insert(entry) or _insert(_stripped(entry))


def registration_request_log(*, entry: RegistrationRequest) -> bool:
    """Writes one entry of the registration request log in a transaction of its own; spools it
    while the database is unreachable. Returns whether the entry is in the log table now.

    Called after the request's own work has committed or rolled back, so a registration
    that failed is on record too. The entry is cleaned of control characters first. One
    the database refuses for its content is reduced (`_stripped`) and written; one refused
    even then is set aside, never spooled: the spool only holds entries that wait for the
    database to come back. Every entry is also a structured log line, so nothing is lost
    even when both the database and the spool directory fail.
    """
    entry = registration_request_cleaned(entry)
    values = {key: value for key, value in _values(entry).items() if key != "created_at"}
    logger.info(
        "registration request %s %s",
        entry.status_code,
        entry.outcome,
        extra={"registration_request": json.loads(json.dumps(values, default=str))},
    )
    try:
        written = _write(entry)
    except LogDatabaseUnavailable:
        logger.warning("registration request log entry %s not written to the database; spooling it", entry.entry_id)
        registration_request_spool(entry=entry)
        registration_request_spooled_count()
        return False
    if not written:
        registration_request_set_aside(entry=entry)
        return False
    if _spool_has_entries():
        # A few at a time, so no request pays for a long outage; the periodic task does the rest.
        registration_request_log_replay(limit=INLINE_REPLAY_LIMIT)
    return True


def spool_dir() -> Path:
    return Path(settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR)


def set_aside_dir() -> Path:
    return spool_dir() / SET_ASIDE_DIR_NAME


def _count_json_files(directory: Path) -> int:
    try:
        with os.scandir(directory) as entries:
            return sum(1 for entry in entries if entry.name.endswith(".json") and entry.is_file())
    except OSError:
        return 0


def _spool_has_entries() -> bool:
    try:
        with os.scandir(spool_dir()) as entries:
            return any(entry.name.endswith(".json") for entry in entries)
    except OSError:
        return False


@dataclass(frozen=True)
class SpoolCounts:
    waiting: int  # for the database to come back
    set_aside: int  # refused by the database even cleaned: for a person to look at


def registration_request_spool_counts() -> SpoolCounts:
    """How many entries of the registration request log are on disk rather than in its table."""
    return SpoolCounts(waiting=_count_json_files(spool_dir()), set_aside=_count_json_files(set_aside_dir()))


def _write_file(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed: a replay never sees half a file.
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as tmp:
        tmp.write(text)
    os.replace(tmp_name, directory / name)


def registration_request_spool(*, entry: RegistrationRequest) -> bool:
    """Keeps a log entry in a file until the database is back; False if even that failed."""
    try:
        _write_file(spool_dir(), f"{entry.entry_id}.json", registration_request_to_json(entry))
    except OSError:
        logger.error(
            "registration request log entry %s lost from the database and the spool; this line is its only record: %s",
            entry.entry_id,
            registration_request_to_json(entry),
        )
        return False
    return True


def registration_request_set_aside(*, entry: RegistrationRequest) -> bool:
    """Keeps an entry the database refused even cleaned in the set-aside folder, for staff."""
    logger.error("registration request log entry %s refused by the database even cleaned; set aside", entry.entry_id)
    try:
        _write_file(set_aside_dir(), f"{entry.entry_id}.json", registration_request_to_json(entry))
    except OSError:
        logger.error(
            "registration request log entry %s could not be set aside; this line is its only record: %s",
            entry.entry_id,
            registration_request_to_json(entry),
        )
        return False
    return True


def _set_aside_file(path: Path) -> None:
    """Moves a spool file into the set-aside folder, where no replay picks it up by itself."""
    try:
        set_aside_dir().mkdir(parents=True, exist_ok=True)
        os.replace(path, set_aside_dir() / path.name)
    except FileNotFoundError:
        return  # another process dealt with it
    except OSError:
        logger.error("registration request spool file %s could not be set aside", path, exc_info=True)
        return
    logger.error("registration request spool file %s set aside in %s", path.name, set_aside_dir())


def registration_request_log_replay(*, limit: int = 1000, set_aside: bool = False) -> int:
    """Moves spooled log entries into the database, one by one; returns how many were written.

    Each entry is written in a transaction of its own, so one the database refuses never
    holds back the others: it is cleaned and written, or else set aside in
    `<spool>/set-aside/` (as is a file that cannot be read). The replay stops at the first
    sign that the database is unreachable, leaving the rest for later. With `set_aside`,
    the set-aside entries are tried again instead (after a fix, say).

    Safe to run in several processes at once: an entry's `entry_id` is unique, so a file
    replayed twice is inserted once, and a file is removed only after its row committed.
    """
    directory = set_aside_dir() if set_aside else spool_dir()
    try:
        paths = sorted(directory.glob("*.json"))[:limit]
    except OSError:
        return 0
    written = 0
    known_users: dict[int, bool] = {}
    for path in paths:
        try:
            entry = registration_request_from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue  # another process replayed it
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            logger.error("unreadable registration request spool file %s", path, exc_info=True)
            if not set_aside:
                _set_aside_file(path)
            continue
        try:
            if entry.user_id is not None and entry.user_id not in known_users:
                known_users[entry.user_id] = user_exists(user_id=entry.user_id)
            if entry.user_id is not None and not known_users[entry.user_id]:
                entry.user_id = None  # the account was deleted while its entry waited: keep the entry
            ok = _write(registration_request_cleaned(entry))
        except (LogDatabaseUnavailable, DatabaseError):
            logger.warning("registration request spool replay stopped: the database is unavailable", exc_info=True)
            break
        if not ok:
            if not set_aside:
                _set_aside_file(path)
            continue
        path.unlink(missing_ok=True)
        written += 1
    if written:
        logger.info("replayed %d spooled registration request log entries", written)
    return written
