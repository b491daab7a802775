"""Account writes: accounts (people and machines), their roles and API tokens."""

from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import Q, Value
from django.db.models.functions import Lower
from rest_framework.authtoken.models import Token

from core.constraints import constraint_violation
from core.exceptions import Conflict
from core.roles import Role

User = get_user_model()

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


def _taken_fields(*, username: str, email: str, phone: str) -> dict[str, list[str]]:
    # One query for the three checks (each side of the OR is one of the unique indexes), at
    # most one row per index. Compared as the unique indexes compare them: PostgreSQL's
    # lower() on both sides.
    wanted = Q(login=Lower(Value(username)))
    if email:
        wanted |= Q(address=Lower(Value(email)))
    if phone:
        wanted |= Q(phone=phone)
    rows = list(
        User.objects.alias(login=Lower("username"), address=Lower("email"))
        .filter(wanted)
        .annotate(
            login_lower=Lower("username"),
            address_lower=Lower("email"),
            login_wanted=Lower(Value(username)),
            address_wanted=Lower(Value(email)),
        )
        .values_list("login_lower", "address_lower", "phone", "login_wanted", "address_wanted")[:3]
    )
    taken = {}
    if any(row[0] == row[3] for row in rows):
        taken["username"] = [TAKEN_MESSAGES["username"]]
    if email and any(row[1] == row[4] for row in rows):
        taken["email"] = [TAKEN_MESSAGES["email"]]
    if phone and any(row[2] == phone for row in rows):
        taken["phone"] = [TAKEN_MESSAGES["phone"]]
    return taken


def user_create(
    *, username: str, password: str, name: str = "", email: str = "", phone: str = "", birth_date: date | None = None
) -> User:
    """Creates an account with no role, its password stored only as a hash (the first
    PASSWORD_HASHERS entry: argon2id), hashed before any lock is taken.

    A login (in any case), e-mail (in any case) or phone already in use is a Conflict
    (`already_taken`) naming every such field; the database's unique indexes decide between
    concurrent requests. Raises ValidationError for a value the model refuses.
    """
    taken = _taken_fields(username=username, email=email, phone=phone)
    if taken:
        raise Conflict("The account could not be created: already taken.", code="already_taken", fields=taken)
    user = User(username=username, name=name, email=email, phone=phone, birth_date=birth_date)
    user.set_password(password)
    user.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        # Another request took the same value between our check and our insert.
        violation = constraint_violation(exc)
        if violation.code != "duplicate" or violation.field not in TAKEN_MESSAGES:
            raise
        raise Conflict(
            "The account could not be created: already taken.",
            code="already_taken",
            fields={violation.field: [TAKEN_MESSAGES[violation.field]]},
        ) from exc
    return user
