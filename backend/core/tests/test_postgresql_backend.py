"""core.postgresql: the health check (no round trip for a live connection, a fresh one for a
dead one) and the compiled timestamptz loader."""

import threading

import pytest
from django.db import connection, connections

from tests.stack import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _in_another_session(sql: str, params: list) -> None:
    def run() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute(sql, params)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)


def test_a_live_connection_is_kept_without_a_statement(monkeypatch):
    pid = _backend_pid()

    def select_1(self):
        raise AssertionError("the health check sent SELECT 1")

    monkeypatch.setattr(type(connections["default"]), "is_usable", select_1)
    connection.health_check_done = False

    connection.close_if_health_check_failed()

    assert connection.health_check_enabled
    assert connection.connection is not None
    assert _backend_pid() == pid


def test_a_connection_whose_server_side_ended_is_replaced():
    pid = _backend_pid()
    _in_another_session("SELECT pg_terminate_backend(%s)", [pid])
    wait_until(lambda: not connection.socket_is_idle(), timeout=10, interval=0.01, what="the socket to show the end")
    connection.health_check_done = False

    connection.close_if_health_check_failed()

    assert connection.connection is None
    assert _backend_pid() != pid


@pytest.mark.parametrize(
    "written",
    [
        "2026-01-02 03:04:05.123456+05",
        "2000-01-01 00:00:00+00",
        "2100-12-31 23:59:59.999999-14",
        "1999-12-31 21:30:00+05:30",
    ],
)
def test_timestamps_are_read_by_the_compiled_loader_with_djangos_answers(written):
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader
    from psycopg.pq import Format

    from core.postgresql.base import TIMESTAMPTZ_OID, FastTzLoader

    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz, %s::timestamptz::text", [written, written])
        value, text = cursor.fetchone()
        django_loader = type("DjangoLoader", (BaseTzLoader,), {"timezone": connection.timezone})
        expected = django_loader(TIMESTAMPTZ_OID, cursor.cursor).load(text.encode())
        loader = cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)

    assert issubclass(loader, FastTzLoader) and loader.timezone == connection.timezone
    assert value == expected and value.tzinfo is expected.tzinfo


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_prepared_cursor_prepares_a_statement_after_the_threshold_and_django_cursors_never():
    statement = "SELECT %s::int + 1"
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    assert threshold == 5
    with connection.cursor() as cursor:  # Django's own cursor binds on the client
        for _ in range(threshold + 2):
            cursor.execute(statement, [1])
    assert not [text for text in _prepared_statements() if "::int + 1" in text]

    with connection.prepared_cursor() as cursor:
        for number in range(threshold + 2):
            cursor.execute(statement, [number])
            assert cursor.fetchone() == (number + 1,)

    assert [text for text in _prepared_statements() if "::int + 1" in text] == ["SELECT $1::int + 1"]
