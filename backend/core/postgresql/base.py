"""Django's PostgreSQL backend, with a connection health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request
that reuses a persistent connection: on the robot POST, one round trip of five. Here the
check looks at the socket instead: an idle connection has nothing to read, while one whose
server went away (a restart, a terminated backend) has its FATAL message or its end of file
waiting. Either way the connection is closed and the request opens a fresh one, as after a
failed `SELECT 1`. A peer that vanished without closing (no FIN) is not seen here; the
query then fails and the request is answered 503 (core.exceptions), as it would be if the
server died between `SELECT 1` and the query.

For the hot paths it gives `prepared_cursor()`, which Django has no API for: a cursor
binding its parameters on the server, so psycopg prepares a statement it has seen
`prepare_threshold` (5) times on the connection, and PostgreSQL stops parsing and planning it
on every request (Django's own cursors bind on the client and cannot be prepared).

It also reads `timestamptz` values with psycopg's compiled loader. Django's loader (which
puts the connection's time zone on each value) derives from psycopg's pure-Python one, so
with psycopg-binary installed every timestamp read still parses in Python: ~10 µs a value,
most of the cost of reading a row of customers (Django ticket #36960). FastTzLoader gives
the same answers from the compiled loader that psycopg registers by default.
"""

import select
from functools import lru_cache

import psycopg
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.adapt import AdaptersMap
from psycopg.pq import Format, TransactionStatus
from psycopg.types.datetime import TimestamptzLoader

TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
# psycopg's own loader: the compiled one when psycopg-binary (or psycopg-c) is installed.
_DEFAULT_TZ_LOADER = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


class FastTzLoader(TimestamptzLoader):
    """Django's timestamptz loader (the value in `timezone`, as
    django.db.backends.postgresql.psycopg_any.BaseTzLoader answers) on psycopg's default,
    compiled, parser. Django compares `timezone` to decide whether a cursor needs its own."""

    timezone = None

    def __init__(self, oid: int, context=None):
        super().__init__(oid, context)
        self._parse = _DEFAULT_TZ_LOADER(oid, context).load

    def load(self, data):
        return self._parse(data).replace(tzinfo=self.timezone)


@lru_cache
def _adapters_with_fast_tzloader(template: AdaptersMap) -> AdaptersMap:
    """Django's adapters template (one per time zone) with FastTzLoader in place of its loader."""
    django_loader = template.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    adapters = AdaptersMap(template)
    adapters.register_loader(
        TIMESTAMPTZ_OID,
        type("FastTzLoader", (FastTzLoader,), {"timezone": django_loader.timezone, "__module__": __name__}),
    )
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if "context" in params and _DEFAULT_TZ_LOADER is not TimestamptzLoader:
            params["context"] = _adapters_with_fast_tzloader(params["context"])
        return params

    def prepared_cursor(self):
        """A Django cursor (errors translated, execute wrappers applied) that binds on the
        server: a statement run `prepare_threshold` times on this connection is prepared, and
        later runs skip PostgreSQL's parse and plan. For statements of fixed text on hot paths;
        a statement with literals in its text would fill psycopg's cache (`prepared_max`)."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = base.ServerBindingCursor(self.connection)
            tzloader = self.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
            if self.timezone != tzloader.timezone:
                register_tzloader(self.timezone, cursor)
            return self._prepare_cursor(cursor)

    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if not self.socket_is_idle():
            self.close()
        self.health_check_done = True

    def socket_is_idle(self) -> bool:
        """True if the connection is open, outside any transaction and has nothing unread."""
        connection = self.connection
        if connection.closed or connection.info.transaction_status != TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
