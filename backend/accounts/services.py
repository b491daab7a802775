"""Account writes: machine tokens for the roles, self-provisioned accounts, the useradd request log."""

import json
import logging
import os
import secrets
import string
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token

from accounts.metrics import useradd_log_spooled_count
from accounts.models import RegistrationRequest
from accounts.roles import Role
from core.exceptions import Conflict

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
    if User.objects.annotate(login=Lower("username")).filter(login=username.lower()).exists():
        taken["username"] = [TAKEN_MESSAGES["username"]]
    if email and User.objects.annotate(address=Lower("email")).filter(address=email.lower()).exists():
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
        return cls(**data)

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


def registration_request_record(*, record: RegistrationRecord) -> RegistrationRequest | None:
    """Writes one log entry in a transaction of its own; if the database is unreachable, spools it.

    Called after the request's own work has committed or rolled back, so a registration
    that failed is on record too. Every entry is also a structured log line, so nothing
    is lost even when both the database and the spool directory fail.
    """
    logger.info(
        "useradd %s %s",
        record.status_code,
        record.outcome,
        extra={"useradd": {k: v for k, v in asdict(record).items() if k != "created_at"}},
    )
    try:
        with transaction.atomic():
            entry = record.to_model()
            entry.save(force_insert=True)
    except DatabaseError:
        logger.warning("useradd log entry %s not written to the database; spooling it", record.entry_id)
        registration_request_spool(record=record)
        useradd_log_spooled_count()
        return None
    if _spool_has_entries():
        registration_spool_replay()
    return entry


def _spool_dir() -> Path:
    return Path(settings.USERADD_LOG_SPOOL_DIR)


def _spool_has_entries() -> bool:
    try:
        with os.scandir(_spool_dir()) as entries:
            return any(entry.name.endswith(".json") for entry in entries)
    except OSError:
        return False


def registration_request_spool(*, record: RegistrationRecord) -> bool:
    """Keeps a log entry in a file until the database is back; False if even that failed."""
    directory = _spool_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed: a replay never sees half a file.
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(record.to_json())
        os.replace(tmp_name, directory / f"{record.entry_id}.json")
    except OSError:
        logger.error(
            "useradd log entry %s lost from the database and the spool; this line is its only record: %s",
            record.entry_id,
            record.to_json(),
        )
        return False
    return True


def registration_spool_replay(*, limit: int = 1000) -> int:
    """Moves spooled log entries into the database; returns how many were written.

    Safe to run in several processes at once: an entry's `entry_id` is unique, so a file
    replayed twice is inserted once, and a file is removed only after its row committed.
    """
    directory = _spool_dir()
    try:
        paths = sorted(directory.glob("*.json"))[:limit]
    except OSError:
        return 0
    records, read_paths = [], []
    for path in paths:
        try:
            records.append(RegistrationRecord.from_json(path.read_text(encoding="utf-8")))
            read_paths.append(path)
        except FileNotFoundError:
            continue  # another process replayed it
        except (ValueError, TypeError, KeyError):
            logger.error("unreadable useradd spool file %s left in place", path)
    if not records:
        return 0
    # An account may have been deleted while its entry waited: keep the entry, drop the link.
    user_ids = {record.user_id for record in records if record.user_id is not None}
    try:
        existing = set(User.objects.filter(id__in=user_ids).values_list("id", flat=True)) if user_ids else set()
    except DatabaseError:
        return 0
    for record in records:
        if record.user_id is not None and record.user_id not in existing:
            record.user_id = None
    try:
        with transaction.atomic():
            RegistrationRequest.objects.bulk_create(
                [record.to_model() for record in records], ignore_conflicts=True, batch_size=500
            )
    except DatabaseError:
        logger.warning("useradd spool replay failed; %d entries stay spooled", len(records), exc_info=True)
        return 0
    for path in read_paths:
        path.unlink(missing_ok=True)
    logger.info("replayed %d spooled useradd log entries", len(records))
    return len(records)
