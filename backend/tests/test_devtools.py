"""`make dev` from a fresh clone: .env fills only what the environment leaves unset, and the
database DATABASE_URL names is created when missing (or one line says why it cannot be)."""

import os
import secrets
import shutil
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from devtools.ensure_database import DatabaseNotReady, ensure_database
from tests.stack import BACKEND_DIR, REPO_DIR, free_port

BASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/r4c")
LOAD_ENV = REPO_DIR / "backend" / "bin" / "load-env"


def with_database(url: str, name: str, *, user: str | None = None) -> str:
    """`url` naming the database `name` (and the user `user`, without a password)."""
    parts = urlsplit(url)
    netloc = parts.netloc if user is None else f"{user}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{name}"))


def admin() -> psycopg.Connection:
    return psycopg.connect(with_database(BASE_URL, "postgres"), autocommit=True)


def bash(script: str, *, cwd, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=60
    )


# --- .env: the environment wins ----------------------------------------------------------
ENV_FILE = """\
# a comment, then the shapes .env.example uses
DATABASE_URL=postgres://postgres@127.0.0.1:5432/from_file
DEFAULT_FROM_EMAIL="R4C <noreply@r4c.example>"
export LOG_LEVEL=DEBUG
EMAIL_PORT=1025
EMPTY_IN_ENVIRONMENT=from-file
"""


def test_env_file_fills_only_what_the_environment_leaves_unset(tmp_path):
    (tmp_path / ".env").write_text(ENV_FILE)

    result = bash(
        f'set -euo pipefail; . "{LOAD_ENV}"; load_env_file .env; '
        'printf "%s|" "$DATABASE_URL" "$DEFAULT_FROM_EMAIL" "$LOG_LEVEL" "$EMAIL_PORT" "$EMPTY_IN_ENVIRONMENT"',
        cwd=tmp_path,
        env={"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/from_shell", "EMPTY_IN_ENVIRONMENT": ""},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("|")[:5] == [
        "postgres://postgres@127.0.0.1:5432/from_shell",  # set in the environment: kept
        "R4C <noreply@r4c.example>",  # unset: from the file, quotes and all
        "DEBUG",
        "1025",
        "",  # set, if empty: the environment still wins
    ]


def test_names_limit_what_is_taken_and_a_missing_file_is_no_error(tmp_path):
    (tmp_path / ".env").write_text(ENV_FILE)

    result = bash(
        f'set -euo pipefail; . "{LOAD_ENV}"; load_env_file .env DATABASE_URL; load_env_file missing.env; '
        'printf "%s|%s" "$DATABASE_URL" "${LOG_LEVEL-unset}"',
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "postgres://postgres@127.0.0.1:5432/from_file|unset"


@pytest.fixture
def fresh_clone(tmp_path):
    """backend/bin of the repository in a directory of its own, where a test writes the .env."""
    bin_dir = tmp_path / "backend" / "bin"
    bin_dir.mkdir(parents=True)
    for script in ("with-services", "load-env"):
        shutil.copy2(REPO_DIR / "backend" / "bin" / script, bin_dir / script)
    return tmp_path


def test_make_test_and_make_dev_find_the_services_in_env_file_unless_the_environment_names_them(fresh_clone):
    from django.conf import settings

    broker = f"{settings.REDIS_SERVER_URL}/0"
    in_file = with_database(BASE_URL, "named_in_env_file")
    (fresh_clone / ".env").write_text(f"DATABASE_URL={in_file}\nCELERY_BROKER_URL={broker}\nLOG_LEVEL=DEBUG\n")
    show = 'backend/bin/with-services bash -c \'printf "%s|%s" "$DATABASE_URL" "${LOG_LEVEL-unset}"\''

    from_file = bash(show, cwd=fresh_clone)
    from_shell = bash(show, cwd=fresh_clone, env={"DATABASE_URL": with_database(BASE_URL, "named_in_shell")})

    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == f"{in_file}|unset"  # only the service addresses: tests keep their settings
    assert from_shell.stdout.startswith(with_database(BASE_URL, "named_in_shell") + "|")


def test_a_server_that_does_not_answer_is_one_line_without_the_password(fresh_clone):
    from django.conf import settings

    port = free_port()
    (fresh_clone / ".env").write_text(
        f"DATABASE_URL=postgres://r4c:s3cret@127.0.0.1:{port}/r4c\nCELERY_BROKER_URL={settings.REDIS_SERVER_URL}/0\n"
    )

    result = bash("backend/bin/with-services true", cwd=fresh_clone)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"PostgreSQL (postgres://r4c:***@127.0.0.1:{port}/r4c) not answering" in result.stderr
    assert "s3cret" not in result.stderr


def test_urls_without_a_port_mean_the_default_port(fresh_clone):
    """postgres://host/db and redis://host/1 are on 5432 and 6379 (what libpq and redis-py assume)."""
    from django.conf import settings

    redis_server = urlsplit(settings.REDIS_SERVER_URL)
    postgres = urlsplit(BASE_URL)
    if (redis_server.port or 6379) != 6379 or (postgres.port or 5432) != 5432:
        pytest.skip("the services of this run are not on their default ports")
    database = postgres._replace(netloc=postgres.netloc.rsplit(":", 1)[0] if postgres.port else postgres.netloc)
    (fresh_clone / ".env").write_text(
        f"DATABASE_URL={urlunsplit(database)}\nCELERY_BROKER_URL=redis://{redis_server.hostname}/1\n"
    )

    result = bash("backend/bin/with-services true", cwd=fresh_clone)

    assert result.returncode == 0, result.stderr


def test_a_port_out_of_range_is_one_line_never_a_traceback(fresh_clone):
    from django.conf import settings

    (fresh_clone / ".env").write_text(
        f"DATABASE_URL=postgres://r4c@127.0.0.1:99999/r4c\nCELERY_BROKER_URL={settings.REDIS_SERVER_URL}/0\n"
    )

    result = bash("backend/bin/with-services true", cwd=fresh_clone)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "PostgreSQL (postgres://r4c@127.0.0.1:99999/r4c) not answering" in result.stderr
    assert "Traceback" not in result.stderr


# --- the database ------------------------------------------------------------------------
@pytest.fixture
def database_name():
    name = f"r4c_try_{secrets.token_hex(4)}"
    yield name
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_missing_database_is_created_once(database_name):
    url = with_database(BASE_URL, database_name)

    created = ensure_database(url)
    again = ensure_database(url)

    assert (created, again) == (True, False)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == database_name


def test_a_user_who_may_not_create_databases_is_told_so_in_one_line(database_name):
    role = f"r4c_nocreate_{secrets.token_hex(3)}"
    with admin() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        with pytest.raises(DatabaseNotReady) as refused:
            ensure_database(with_database(BASE_URL, database_name, user=role))
    finally:
        with admin() as conn:
            conn.execute(f'DROP ROLE "{role}"')

    assert f"The database {database_name!r} does not exist and {role}@" in str(refused.value)
    assert "permission denied to create database" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_make_devs_first_step_says_in_one_line_that_postgres_does_not_answer_never_a_traceback():
    port = free_port()
    url = f"postgres://r4c:s3cret@127.0.0.1:{port}/r4c"

    result = subprocess.run(
        [sys.executable, "-m", "devtools.ensure_database"],
        cwd=BACKEND_DIR,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.startswith(f"make dev: cannot connect to PostgreSQL (r4c@127.0.0.1:{port}): ")
    assert "Connection refused" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr
