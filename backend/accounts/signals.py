"""What makes the web processes forget the API tokens they hold (core.authentication).

A token created, changed or deleted (revoked), an account changed or deleted (deactivated,
made superuser...), a role given or taken (the groups of an account, from either side), a
role group renamed or deleted: each of these may change who a token is and what it may do.
They are rare, so each empties every process's token cache (a new generation in Redis).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authtoken.models import Token

from core.authentication import token_cache_invalidate


def _changed(sender, *, created: bool = False, update_fields=None, **kwargs) -> None:
    # A new row is in no cache (only tokens that were found are kept, and a new account has
    # no token yet); a sign-in's last_login changes nothing a token decides. Neither may
    # empty every process's cache: registrations and sign-ins are frequent.
    if created or (update_fields is not None and set(update_fields) == {"last_login"}):
        return
    token_cache_invalidate()


def _deleted(sender, **kwargs) -> None:
    token_cache_invalidate()


def _roles_changed(sender, *, action: str, **kwargs) -> None:
    if action.startswith("post_"):  # once, after the change
        token_cache_invalidate()


def connect() -> None:
    """Connects the invalidation to every change that may alter a token's account or roles
    (AccountsConfig.ready)."""
    user_model = get_user_model()
    for model in (Token, user_model, Group):
        post_save.connect(_changed, sender=model, dispatch_uid=f"token_cache.save.{model._meta.label}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"token_cache.delete.{model._meta.label}")
    m2m_changed.connect(_roles_changed, sender=user_model.groups.through, dispatch_uid="token_cache.groups")
