"""Token authentication for the API's hot path: the account and its roles, cached per process.

Every API request names its token. Loading the token, its account and its roles is one
query (token ⋈ user ⋈ groups), prepared once per process; its answer is then kept in the
process for at most API_TOKEN_CACHE_SECONDS, so a production line posting robots costs
no query at all for who it is.

A revocation or a role change is seen at once, not after the staleness bound: whatever
changes a token, an account or a role membership (accounts.signals) writes a new random
*generation* to Redis (the cache's server), and every request reads it first (one `GET`,
a fraction of the query it saves). A generation other than the one the process's entries
were loaded under empties them. It is written both when the change is made and again
once its transaction commits, so a request that loaded the old state in between is
dropped too. A change that sends no signal (a queryset `update()` or raw SQL) is seen
after API_TOKEN_CACHE_SECONDS at the latest. While Redis does not answer, nothing is
cached or read from the cache: every request asks the database, as without the cache.
"""

import copy
import logging
import secrets
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_redis import get_redis_connection
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.permissions import ROLES_CACHE_ATTRIBUTE

logger = logging.getLogger(__name__)

GENERATION_KEY = "r4c:auth:generation"
# A process never holds more entries than this (only valid tokens are kept; a flood of
# tokens beyond it starts the cache afresh rather than growing it).
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    user: object  # the user model (settings.AUTH_USER_MODEL)
    token: Token
    loaded_at: float  # time.monotonic()


class TokenCache:
    """Token key -> (user with its roles, token), per process, under one Redis generation."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._generation: str | None = None

    def current_generation(self) -> str | bool | None:
        """The generation in Redis (None while unset), or False when Redis does not answer."""
        try:
            value = get_redis_connection("default").get(GENERATION_KEY)
        except (redis.RedisError, OSError):
            logger.warning("token cache: Redis unavailable, asking the database", exc_info=True)
            return False
        return value.decode() if value is not None else None

    def get(self, key: str, generation: str | None) -> tuple[object, Token] | None:
        """A copy of the cached (user, token) of `key` if it is fresh under `generation`."""
        if generation != self._generation:
            self._entries.clear()
            self._generation = generation
            return None
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry.loaded_at > settings.API_TOKEN_CACHE_SECONDS:
            return None
        # Copies: a view may change the objects it is given; the next request must not see that.
        user, token = copy.copy(entry.user), copy.copy(entry.token)
        token.user = user
        return user, token

    def put(self, key: str, user, token: Token, generation: str | None, loaded_at: float) -> None:
        """Keeps (user, token) loaded at `loaded_at` under `generation`, read before the query."""
        if generation != self._generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = _Entry(user=copy.copy(user), token=copy.copy(token), loaded_at=loaded_at)

    def clear(self) -> None:
        self._entries.clear()
        self._generation = None


token_cache = TokenCache()


def token_cache_invalidate() -> None:
    """Makes every process forget the tokens it holds: now, and again once the current
    transaction commits (accounts.signals calls it for every change to tokens, accounts or
    roles). A Redis failure is logged: entries then live API_TOKEN_CACHE_SECONDS at most."""
    _write_new_generation()
    transaction.on_commit(_write_new_generation)


def _write_new_generation() -> None:
    token_cache.clear()  # this process at once, even without Redis
    try:
        get_redis_connection("default").set(GENERATION_KEY, secrets.token_hex(8))
    except (redis.RedisError, OSError):
        logger.warning("token cache: could not publish an invalidation", exc_info=True)


def _token_query() -> tuple[str, list[str]]:
    """The one query of a cache miss, its SQL built once from the models' metadata: the
    token's columns, the user's, and the names of the user's groups (roles)."""
    quote = connection.ops.quote_name
    user_model = get_user_model()
    token_meta, user_meta = Token._meta, user_model._meta
    groups = user_meta.get_field("groups")
    through = groups.remote_field.through._meta
    group_meta = groups.related_model._meta
    token_columns = [field.column for field in token_meta.concrete_fields]
    user_columns = [field.column for field in user_meta.concrete_fields]
    select = [f"t.{quote(column)}" for column in token_columns] + [f"u.{quote(column)}" for column in user_columns]
    sql = (
        f"SELECT {', '.join(select)}, "  # noqa: S608 (names from the models, the key is a parameter)
        f"COALESCE((SELECT ARRAY_AGG(g.{quote(group_meta.get_field('name').column)}) "
        f"FROM {quote(through.db_table)} ug JOIN {quote(group_meta.db_table)} g "
        f"ON g.{quote(group_meta.pk.column)} = ug.{quote(groups.m2m_reverse_name())} "
        f"WHERE ug.{quote(groups.m2m_column_name())} = u.{quote(user_meta.pk.column)}), '{{}}') "
        f"FROM {quote(token_meta.db_table)} t JOIN {quote(user_meta.db_table)} u "
        f"ON u.{quote(user_meta.pk.column)} = t.{quote(token_meta.get_field('user').column)} "
        f"WHERE t.{quote(token_meta.pk.column)} = %s"
    )
    return sql, [field.attname for field in token_meta.concrete_fields] + [
        field.attname for field in user_meta.concrete_fields
    ]


_query: tuple[str, list[str]] | None = None


def token_load(key: str) -> tuple[object, Token] | None:
    """The token `key` with its account (roles set on it), from the database; None if unknown."""
    global _query
    if _query is None:
        _query = _token_query()
    sql, attnames = _query
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    token_fields = len(Token._meta.concrete_fields)
    token = Token.from_db("default", attnames[:token_fields], row[:token_fields])
    user = get_user_model().from_db("default", attnames[token_fields:-1], row[token_fields:-1])
    setattr(user, ROLES_CACHE_ATTRIBUTE, frozenset(row[-1]))
    token.user = user
    return user, token


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, as DRF's, with the user's roles and a per-process cache."""

    def authenticate_credentials(self, key):
        cached = settings.API_TOKEN_CACHE_SECONDS > 0
        generation = token_cache.current_generation() if cached else False
        if generation is not False:
            hit = token_cache.get(key, generation)
            if hit is not None:
                return hit
        loaded_at = time.monotonic()
        loaded = token_load(key)
        if loaded is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user, token = loaded
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if generation is not False:
            token_cache.put(key, user, token, generation, loaded_at)
        return user, token
