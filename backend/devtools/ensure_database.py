"""`make dev`'s first step: the database DATABASE_URL names exists, or one line says why not.

    python -m devtools.ensure_database        (reads DATABASE_URL)

Creates the database when the server answers but the database is missing; when the server
does not answer (or refuses the user), prints one line saying so and exits 1, never a
traceback. Deployments never run this: their database is made by whoever runs PostgreSQL.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/r4c"
MAINTENANCE_DATABASES = ("postgres", "template1")


class DatabaseNotReady(Exception):
    """The database cannot be used or made; the message is one line meant for a person."""


@dataclass(frozen=True)
class Target:
    url: str
    name: str
    where: str  # "user@host:port", never the password

    @classmethod
    def parse(cls, url: str) -> Target:
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError:  # its message would quote the URL, password and all
            raise DatabaseNotReady("DATABASE_URL is not a PostgreSQL URL (postgres://user@host:port/NAME).") from None
        name = str(params.get("dbname") or "")
        if not name:
            raise DatabaseNotReady("DATABASE_URL names no database (postgres://user@host:port/NAME).")
        where = (
            f"{params.get('user') or '(default user)'}@{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
        )
        return cls(url=url, name=name, where=where)


def one_line(error: BaseException) -> str:
    """libpq's messages span lines ("... failed: Connection refused\\n\\tIs the server running ...")."""
    return " ".join(str(error).split()).removeprefix("connection failed: ")


def ensure_database(url: str, *, connect_timeout: int = 5) -> bool:
    """Makes sure the database of `url` exists; returns True when it had to be created.

    Raises DatabaseNotReady (one line, no password) when the server does not answer, refuses
    the user, or the user may not create the missing database.
    """
    target = Target.parse(url)
    try:
        psycopg.connect(url, connect_timeout=connect_timeout).close()
        return False
    except psycopg.OperationalError as exc:
        first_error = exc
    maintenance = _maintenance_connection(target, connect_timeout=connect_timeout)
    with maintenance:
        exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target.name]).fetchone()
        if exists:  # it is there, but this user may not connect to it
            raise DatabaseNotReady(f"PostgreSQL ({target.where}) refused {target.name!r}: {one_line(first_error)}")
        try:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))
        except psycopg.errors.DuplicateDatabase:
            return False  # made by someone else meanwhile
        except psycopg.Error as exc:
            raise DatabaseNotReady(
                f"The database {target.name!r} does not exist and {target.where} may not create it: {one_line(exc)}"
            ) from None
    return True


def _maintenance_connection(target: Target, *, connect_timeout: int) -> psycopg.Connection:
    """A connection to the server itself (the `postgres` database, else `template1`)."""
    error: psycopg.Error | None = None
    for database in MAINTENANCE_DATABASES:
        try:
            conninfo = make_conninfo(target.url, dbname=database)
            return psycopg.connect(conninfo, connect_timeout=connect_timeout, autocommit=True)
        except psycopg.Error as exc:
            error = exc
    raise DatabaseNotReady(f"cannot connect to PostgreSQL ({target.where}): {one_line(error)}")


def main() -> None:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    try:
        created = ensure_database(url)
    except DatabaseNotReady as exc:
        sys.exit(f"make dev: {exc}")
    except Exception as exc:  # never a traceback for a person starting `make dev`
        sys.exit(f"make dev: the database of DATABASE_URL is not usable: {type(exc).__name__}: {one_line(exc)}")
    if created:
        target = Target.parse(url)
        print(f"created the database {target.name!r} ({target.where})", file=sys.stderr)


if __name__ == "__main__":
    main()
