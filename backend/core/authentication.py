"""Token authentication that loads the account and its roles in one query (the hot path)."""

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Q
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.permissions import ROLES_CACHE_ATTRIBUTE


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's, plus the user's role names on the same query."""

    def authenticate_credentials(self, key):
        token = (
            Token.objects.select_related("user")
            .annotate(role_names=ArrayAgg("user__groups__name", filter=Q(user__groups__isnull=False), default=[]))
            .filter(key=key)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        setattr(token.user, ROLES_CACHE_ATTRIBUTE, frozenset(token.role_names))
        return token.user, token
