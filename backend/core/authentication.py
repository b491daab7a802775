"""Token authentication for the API's hot path: the account and its roles, cached per process.

Every API request names its token. Loading the token, its account and its roles is one
query (token ⋈ user ⋈ groups), prepared once per process; its answer is then kept in the
process for at most API_TOKEN_CACHE_SECONDS, so a production line posting robots costs
no query and no round trip at all for who it is.

A revocation or a role change is seen at once, not after the staleness bound: whatever
changes a token, an account or a role membership (accounts.signals) publishes a message on
a Redis channel that every web process is subscribed to, both when the change is made and
again once its transaction commits (so an entry loaded in between goes too). PUBLISH
returns once Redis has written the message to every subscriber's socket, so by the time
the changing process goes on, the message waits in each process's socket buffer; each
request first reads what is there (a poll of the socket, no round trip) and empties the
cache on any message. A process uses its cache only while subscribed: on its first use,
and after any reconnection (messages may have been missed), it empties the cache and waits
for Redis to confirm the subscription before it keeps anything again. While Redis does not
answer, nothing is cached: every request asks the database, as without the cache. A change
that sends no signal (a queryset `update()`, raw SQL) is seen after API_TOKEN_CACHE_SECONDS.
"""

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Model
from django_redis import get_redis_connection
from redis.client import PubSub
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.permissions import ROLES_CACHE_ATTRIBUTE

logger = logging.getLogger(__name__)

CHANNEL = "r4c:auth:invalidate"  # + the cache's Redis database: channels are server-wide, databases are not


def _channel(client: redis.Redis) -> str:
    """The invalidation channel of the deployment whose cache is `client`'s database (test
    slots and benchmark stacks share one Redis server, each with databases of its own)."""
    return f"{CHANNEL}:{client.connection_pool.connection_kwargs.get('db', 0)}"


# A process never holds more entries than this (only valid tokens are kept; a flood of
# tokens beyond it starts the cache afresh rather than growing it).
MAX_ENTRIES = 10_000
# After Redis failed, how long a process asks the database alone before it tries to subscribe again.
RESUBSCRIBE_AFTER = 1.0  # seconds
SUBSCRIBE_CONFIRMATION_TIMEOUT = 1.0  # seconds


@dataclass(frozen=True)
class _Entry:
    user: object  # the user model (settings.AUTH_USER_MODEL)
    token: Token
    loaded_at: float  # time.monotonic()


class _Subscriber(PubSub):
    """The invalidation channel's subscription; tells the cache of every (re)connection, after
    which messages may have been missed (redis-py reconnects and resubscribes on its own)."""

    def __init__(self, *args, on_connected, **kwargs):
        self._on_connected = on_connected
        super().__init__(*args, **kwargs)

    def on_connect(self, connection) -> None:
        self._on_connected()
        super().on_connect(connection)


def _clone(instance: Model) -> Model:
    """A shallow copy of a model instance, the one copy.copy makes (Model.__getstate__: its own
    ModelState and fields cache), without the pickle protocol's round (a lookup of the model
    in the app registry and a version check): two are made on every API request."""
    clone = object.__new__(type(instance))
    clone.__dict__.update(instance.__getstate__())
    return clone


class TokenCache:
    """Token key -> (user with its roles, token), per process, emptied by the invalidation channel."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._subscriber: _Subscriber | None = None
        self._pid = 0
        self._confirmed = False
        self._retry_at = float("-inf")
        # The subscription's connection is one socket: threads (a threaded server, the tests)
        # take turns reading it. Uncontended under gunicorn's sync workers.
        self._lock = threading.Lock()

    def usable(self) -> bool:
        """Reads the invalidations that arrived (emptying the cache on any) and says whether the
        cache may be used: only while subscribed, and never with Redis away."""
        with self._lock:
            return self._usable()

    def _usable(self) -> bool:
        try:
            if self._subscriber is None or self._pid != os.getpid():
                if time.monotonic() < self._retry_at:
                    return False
                self._subscribe()
            while (message := self._subscriber.get_message(timeout=0)) is not None:
                self._handle(message)
            deadline = time.monotonic() + SUBSCRIBE_CONFIRMATION_TIMEOUT
            while not self._confirmed and time.monotonic() < deadline:
                message = self._subscriber.get_message(timeout=max(0.0, deadline - time.monotonic()))
                if message is not None:
                    self._handle(message)
        except (redis.RedisError, OSError):
            logger.warning("token cache: Redis unavailable, asking the database", exc_info=True)
            self._unsubscribe()
            self._retry_at = time.monotonic() + RESUBSCRIBE_AFTER
            return False
        return self._confirmed

    def _subscribe(self) -> None:
        self._unsubscribe()
        client = get_redis_connection("default")
        self._subscriber = _Subscriber(client.connection_pool, on_connected=self._connected)
        self._pid = os.getpid()
        self._subscriber.subscribe(_channel(client))

    def _connected(self) -> None:
        # A (re)connection: what was published meanwhile is lost; start afresh once confirmed.
        self._entries.clear()
        self._confirmed = False

    def _handle(self, message: dict) -> None:
        if message["type"] == "subscribe":
            self._confirmed = True
        self._entries.clear()  # an invalidation, or a (re)subscription: anything may have changed

    def _unsubscribe(self) -> None:
        self._entries.clear()
        self._confirmed = False
        subscriber, self._subscriber = self._subscriber, None
        if subscriber is not None and self._pid == os.getpid():
            with contextlib.suppress(redis.RedisError, OSError):
                subscriber.close()

    def get(self, key: str) -> tuple[object, Token] | None:
        """A copy of the cached (user, token) of `key` if it is younger than the staleness bound."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry.loaded_at > settings.API_TOKEN_CACHE_SECONDS:
            return None
        # Copies: a view may change the objects it is given; the next request must not see that.
        user, token = _clone(entry.user), _clone(entry.token)
        token.user = user
        return user, token

    def put(self, key: str, user, token: Token, loaded_at: float) -> None:
        """Keeps (user, token) loaded at `loaded_at`: a time taken before the query, after the
        invalidations that had arrived were read."""
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = _Entry(user=_clone(user), token=_clone(token), loaded_at=loaded_at)

    def clear(self) -> None:
        self._entries.clear()

    def reset(self) -> None:
        """Forgets the entries and the subscription (tests: the next use subscribes afresh)."""
        with self._lock:
            self._unsubscribe()
            self._retry_at = float("-inf")


token_cache = TokenCache()


def token_cache_invalidate() -> None:
    """Makes every process forget the tokens it holds: now, and again once the current
    transaction commits (accounts.signals calls it for every change to tokens, accounts or
    roles). A Redis failure is logged: entries then live API_TOKEN_CACHE_SECONDS at most."""
    _publish_invalidation()
    transaction.on_commit(_publish_invalidation)


def _publish_invalidation() -> None:
    token_cache.clear()  # this process at once, even without Redis
    try:
        client = get_redis_connection("default")
        client.publish(_channel(client), b"1")
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
        cached = settings.API_TOKEN_CACHE_SECONDS > 0 and token_cache.usable()
        if cached:
            hit = token_cache.get(key)
            if hit is not None:
                return hit
        loaded_at = time.monotonic()
        loaded = token_load(key)
        if loaded is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user, token = loaded
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if cached:
            token_cache.put(key, user, token, loaded_at)
        return user, token
