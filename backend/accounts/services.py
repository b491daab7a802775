"""Account writes: machine tokens for the roles."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.roles import Role

User = get_user_model()


@transaction.atomic
def api_token_create(*, username: str, role: Role) -> Token:
    """Finds or creates the account `username`, gives it `role` and returns its API token.

    A new account gets an unusable password: it signs in with the token only.
    """
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    token, _ = Token.objects.get_or_create(user=user)
    return token
