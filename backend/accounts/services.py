"""Account writes: machine tokens for the roles, self-provisioned accounts, the useradd request log."""

import json
import logging
import math
import os
import secrets
import string
import tempfile
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token

from accounts.metrics import useradd_log_spooled_count
from accounts.models import RegistrationRequest
from core.exceptions import Conflict
from core.guards import escape_control_characters
from core.roles import Role

User = get_user_model()
logger = logging.getLogger(__name__)

PASSWORD_LENGTH = 20
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.!@#%+="
# Which field a violated constraint is about, for a 409 that names it.
CONSTRAINT_FIELDS = {
    "accounts_user_username_key": "username",
    "accounts_user_username_ci_unique": "username",
    "accounts_user_email_ci_unique": "email",
    "accounts_user_phone_unique": "phone",
}
TAKEN_MESSAGES = {
    "username": "This login is already taken.",
    "email": "An account with this e-mail address already exists.",
    "phone": "An account with this phone number already exists.",
}


@transaction.atomic
def api_token_create(*, username: str, role: Role) -> Token:
    """Finds or creates the account `username`, gives it `role` and returns its API token.

    A new account gets an unusable password: it signs in with the token only.
    """
    try:
        user = User.objects.get_by_natural_key(username)  # logins are one in any case
    except User.DoesNotExist:
        user = User(username=username)
        user.set_unusable_password()
        user.save()
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    token, _ = Token.objects.get_or_create(user=user)
    return token


# --- useradd -----------------------------------------------------------------------------
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


def _taken_fields(*, username: str, email: str, phone: str) -> dict[str, list[str]]:
    taken = {}
    # Compared as the unique indexes compare them: PostgreSQL's lower() on both sides.
    if User.objects.alias(login=Lower("username")).filter(login=Lower(Value(username))).exists():
        taken["username"] = [TAKEN_MESSAGES["username"]]
    if email and User.objects.alias(address=Lower("email")).filter(address=Lower(Value(email))).exists():
        taken["email"] = [TAKEN_MESSAGES["email"]]
    if phone and User.objects.filter(phone=phone).exists():
        taken["phone"] = [TAKEN_MESSAGES["phone"]]
    return taken


def account_register(
    *, name: str, username: str, email: str = "", phone: str = "", birth_date: date | None = None
) -> tuple[User, str]:
    """Creates a self-provisioned account with no role; returns it and its generated password.

    The password is returned once and stored only as a hash (the first PASSWORD_HASHERS
    entry: argon2id). A login, e-mail or phone already in use is a Conflict naming every
    such field; the database's unique indexes decide between concurrent requests.
    """
    taken = _taken_fields(username=username, email=email, phone=phone)
    if taken:
        raise Conflict("The account could not be created: already taken.", code="already_taken", fields=taken)

    password = password_generate()
    user = User(username=username, name=name, email=email, phone=phone, birth_date=birth_date)
    user.set_password(password)  # hashed before the transaction: no lock is held while Argon2 runs
    user.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # Another request took the same value between our check and our insert.
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        field_name = CONSTRAINT_FIELDS.get(constraint or "")
        if field_name is None:
            raise
        raise Conflict(
            "The account could not be created: already taken.",
            code="already_taken",
            fields={field_name: [TAKEN_MESSAGES[field_name]]},
        ) from exc
    return user, password


# --- the useradd request log -------------------------------------------------------------
# Where an entry the database refused even once cleaned is kept (inside the spool
# directory, never replayed on its own): counted in /metrics, shown to staff on /stats/.
SET_ASIDE_DIR_NAME = "set-aside"
# Spooled entries a request that reached the database writes on its way out (one by one).
INLINE_REPLAY_LIMIT = 100
# The database refused the entry for what it holds, not because it is unreachable.
CONTENT_ERRORS = (DataError, IntegrityError, ValueError, TypeError)


class LogDatabaseUnavailable(Exception):
    """The database could not take a log entry for a reason of its own (outage, restart)."""


@dataclass
class RegistrationRecord:
    """One useradd request as it is logged; personal data already masked, never a password."""

    created_at: datetime
    status_code: int
    outcome: str
    duration_ms: float
    request_id: str = ""
    method: str = "POST"
    error_codes: list[str] = field(default_factory=list)
    errors: dict = field(default_factory=dict)
    login: str = ""
    email_masked: str = ""
    phone_masked: str = ""
    client_address: str = ""
    user_agent: str = ""
    user_id: int | None = None
    entry_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_json(self) -> str:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> "RegistrationRecord":
        data = json.loads(text)
        data["created_at"] = parse_datetime(data["created_at"])
        if data["created_at"] is None:
            raise ValueError("created_at is not a date and time")
        return cls(**data)

    def cleaned(self) -> "RegistrationRecord":
        """The same entry with every control character written as a visible escape
        (core.guards), in every text and in the keys and values of `errors`: nothing of the
        kind reaches the log table, the log stream, the pages or the exports."""
        return replace(
            self,
            request_id=escape_control_characters(str(self.request_id)),
            method=escape_control_characters(str(self.method)),
            error_codes=[escape_control_characters(str(code)) for code in self.error_codes],
            errors=_clean_json(self.errors) if isinstance(self.errors, dict) else {"detail": _clean_json(self.errors)},
            login=escape_control_characters(str(self.login)),
            email_masked=escape_control_characters(str(self.email_masked)),
            phone_masked=escape_control_characters(str(self.phone_masked)),
            client_address=escape_control_characters(str(self.client_address)),
            user_agent=escape_control_characters(str(self.user_agent)),
        )

    def stripped(self) -> "RegistrationRecord":
        """The last resort before setting an entry aside: its messages reduced to text and
        its account link dropped, which are what a well-formed entry can still be refused for."""
        errors = json.dumps(self.errors, ensure_ascii=True, default=str)[:2000]
        return replace(self.cleaned(), errors={"detail": escape_control_characters(errors)}, user_id=None)

    def to_model(self) -> RegistrationRequest:
        return RegistrationRequest(
            entry_id=uuid.UUID(self.entry_id),
            created_at=self.created_at,
            request_id=self.request_id[:64],
            method=self.method[:10],
            status_code=self.status_code,
            outcome=self.outcome,
            error_codes=[code[:100] for code in self.error_codes],
            errors=self.errors,
            login=self.login[:150],
            email_masked=self.email_masked[:254],
            phone_masked=self.phone_masked[:32],
            client_address=self.client_address[:100],
            user_agent=self.user_agent[:200],
            duration_ms=self.duration_ms,
            user_id=self.user_id,
        )


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


def _insert(record: RegistrationRecord) -> bool:
    """Inserts one entry in a transaction of its own (a replayed duplicate is skipped); True
    if written, False if the database refused it for its content; raises
    LogDatabaseUnavailable when the database could not take it at all."""
    try:
        with transaction.atomic():
            RegistrationRequest.objects.bulk_create([record.to_model()], ignore_conflicts=True)
    except CONTENT_ERRORS as exc:
        logger.warning("useradd log entry %s refused for its content: %s", record.entry_id, exc)
        return False
    except DatabaseError as exc:
        raise LogDatabaseUnavailable(str(exc)) from exc
    return True


def _write(record: RegistrationRecord) -> bool:
    """Writes an entry as it is, else cleaned down to what any entry can be; False if even
    that was refused (the caller sets it aside). Raises LogDatabaseUnavailable."""
    return _insert(record) or _insert(record.stripped())


def registration_request_record(*, record: RegistrationRecord) -> bool:
    """Writes one log entry in a transaction of its own; if the database is unreachable, spools it.
    Returns whether the entry is in the log table now.

    Called after the request's own work has committed or rolled back, so a registration
    that failed is on record too. The entry is cleaned of control characters first. One
    the database refuses for its content is reduced (RegistrationRecord.stripped) and
    written; one refused even then is set aside, never spooled: the spool only holds entries
    that wait for the database to come back. Every entry is also a structured log line, so
    nothing is lost even when both the database and the spool directory fail.
    """
    record = record.cleaned()
    logger.info(
        "useradd %s %s",
        record.status_code,
        record.outcome,
        extra={"useradd": {k: v for k, v in asdict(record).items() if k != "created_at"}},
    )
    try:
        written = _write(record)
    except LogDatabaseUnavailable:
        logger.warning("useradd log entry %s not written to the database; spooling it", record.entry_id)
        registration_request_spool(record=record)
        useradd_log_spooled_count()
        return False
    if not written:
        registration_request_set_aside(record=record)
        return False
    if _spool_has_entries():
        # A few at a time, so no request pays for a long outage; the periodic task does the rest.
        registration_spool_replay(limit=INLINE_REPLAY_LIMIT)
    return True


def spool_dir() -> Path:
    return Path(settings.USERADD_LOG_SPOOL_DIR)


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


def registration_spool_counts() -> SpoolCounts:
    """How many useradd log entries are on disk rather than in the log table."""
    return SpoolCounts(waiting=_count_json_files(spool_dir()), set_aside=_count_json_files(set_aside_dir()))


def _write_file(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed: a replay never sees half a file.
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as tmp:
        tmp.write(text)
    os.replace(tmp_name, directory / name)


def registration_request_spool(*, record: RegistrationRecord) -> bool:
    """Keeps a log entry in a file until the database is back; False if even that failed."""
    try:
        _write_file(spool_dir(), f"{record.entry_id}.json", record.to_json())
    except OSError:
        logger.error(
            "useradd log entry %s lost from the database and the spool; this line is its only record: %s",
            record.entry_id,
            record.to_json(),
        )
        return False
    return True


def registration_request_set_aside(*, record: RegistrationRecord) -> bool:
    """Keeps an entry the database refused even cleaned in the set-aside folder, for staff."""
    logger.error("useradd log entry %s refused by the database even cleaned; set aside", record.entry_id)
    try:
        _write_file(set_aside_dir(), f"{record.entry_id}.json", record.to_json())
    except OSError:
        logger.error(
            "useradd log entry %s could not be set aside; this line is its only record: %s",
            record.entry_id,
            record.to_json(),
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
        logger.error("useradd spool file %s could not be set aside", path, exc_info=True)
        return
    logger.error("useradd spool file %s set aside in %s", path.name, set_aside_dir())


def registration_spool_replay(*, limit: int = 1000, set_aside: bool = False) -> int:
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
            record = RegistrationRecord.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue  # another process replayed it
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            logger.error("unreadable useradd spool file %s", path, exc_info=True)
            if not set_aside:
                _set_aside_file(path)
            continue
        try:
            if record.user_id is not None and record.user_id not in known_users:
                known_users[record.user_id] = User.objects.filter(id=record.user_id).exists()
            if record.user_id is not None and not known_users[record.user_id]:
                record.user_id = None  # the account was deleted while its entry waited: keep the entry
            ok = _write(record.cleaned())
        except (LogDatabaseUnavailable, DatabaseError):
            logger.warning("useradd spool replay stopped: the database is unavailable", exc_info=True)
            break
        if not ok:
            if not set_aside:
                _set_aside_file(path)
            continue
        path.unlink(missing_ok=True)
        written += 1
    if written:
        logger.info("replayed %d spooled useradd log entries", written)
    return written
