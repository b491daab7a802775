"""The real processes of DESIGN.md §5 on loopback, for end-to-end tests and benchmarks.

Every process is started with the same script docker compose runs (backend/bin/*,
worker/bin/*, nginx/bin/run-local), against a database of its own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
import requests
from django.conf import settings

REPO_DIR = Path(__file__).resolve().parents[2]
BACKEND_DIR = REPO_DIR / "backend"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessExited(RuntimeError):
    """A process the stack started has died: waiting for it any longer is pointless."""


def wait_until(condition: Callable[[], object], *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Polls `condition` until it returns something truthy; fails with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except ProcessExited:
            raise
        except Exception as exc:  # not ready yet: remember why, try again
            last_error = exc
        else:
            if result:
                return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last error: {last_error!r}")


def _admin_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/postgres"))


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@dataclass
class Stack:
    """A private deployment: its own database, Redis databases, directories and ports."""

    work_dir: Path
    base_database_url: str = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/r4c")
    redis_url: str = ""  # the Redis server; the test settings' one by default
    redis_db: int = -1  # the test slot's by default
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    gateway_url: str = ""  # our fake SMS gateway's, once start_fake_gateway ran

    def __post_init__(self) -> None:
        self.redis_url = self.redis_url or settings.REDIS_SERVER_URL
        if self.redis_db < 0:
            self.redis_db = settings.TEST_REDIS_DBS[2]
        self.database_name = f"r4c_e2e_{secrets.token_hex(4)}"
        self.database_url = urlunsplit(urlsplit(self.base_database_url)._replace(path=f"/{self.database_name}"))
        self.web_port = free_port()
        self.nginx_port = free_port()
        self.static_root = self.work_dir / "static"
        self.reports_dir = self.work_dir / "reports"
        self.broker_url = f"{self.redis_url}/{self.redis_db}"

    # --- environment -----------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            ENVIRONMENT="development",
            DEBUG="0",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.broker_url,
            CACHE_URL=f"{self.redis_url}/{settings.TEST_REDIS_DBS[3]}",
            STATIC_ROOT=str(self.static_root),
            REPORTS_DIR=str(self.reports_dir),
            REPORTS_ACCEL_REDIRECT_PREFIX="/protected-reports/",
            GUNICORN_BIND=f"127.0.0.1:{self.web_port}",
            WEB_CONCURRENCY="2",
            WORKER_CONCURRENCY="2",
            MAILING_WORKER_CONCURRENCY="1",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            LOG_LEVEL="INFO",
            LOG_FORMAT="json",
            PROMETHEUS_MULTIPROC_DIR=str(self.work_dir / "prometheus"),
            BEAT_HEARTBEAT_FILE=str(self.work_dir / "beat-heartbeat"),
            NGINX_RUN_DIR=str(self.work_dir / "nginx"),
            NGINX_PORT=str(self.nginx_port),
            BACKEND_UPSTREAM=f"127.0.0.1:{self.web_port}",
            NGINX_STATIC_ROOT=str(self.static_root),
            NGINX_REPORTS_ROOT=str(self.reports_dir),
            NGINX_MAX_BODY_SIZE="4m",
        )
        env.update(self.extra_env)
        return env

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def nginx_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    # --- lifecycle -------------------------------------------------------------------
    def create_database(self) -> None:
        with psycopg.connect(_admin_url(self.base_database_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database_name}"')

    def drop_database(self) -> None:
        with psycopg.connect(_admin_url(self.base_database_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')

    def prepare(self) -> None:
        """A fresh database and directories, then the release phase (migrate, schedule, static)."""
        # nginx's workers run as an unprivileged user: they must be able to read these.
        for directory in (self.work_dir, self.static_root, self.reports_dir):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)
        redis.Redis.from_url(self.broker_url).flushdb()  # no stale wake-ups from an earlier run
        self.create_database()
        self.run("release", [str(BACKEND_DIR / "bin" / "release")], timeout=300)

    def api_token(self, username: str, role: str) -> str:
        """The token of `username` with `role` in this stack's database (created if new)."""
        output = subprocess.run(
            [sys.executable, "manage.py", "create_api_token", username, "--role", role],
            cwd=BACKEND_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        return output.strip().splitlines()[-1]

    def api_session(self, username: str, role: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.api_token(username, role)}"
        return session

    def run(self, name: str, argv: list[str], timeout: float) -> None:
        log_path = self.work_dir / f"{name}.log"
        with log_path.open("ab") as log:
            result = subprocess.run(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed ({result.returncode}):\n{log_path.read_text()[-3000:]}")

    def start(self, name: str, argv: list[str]) -> Process:
        log_path = self.work_dir / f"{name}.log"
        popen = subprocess.Popen(
            argv,
            env=self.env,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it stops its children
        )
        process = Process(name=name, popen=popen, log_path=log_path)
        self.processes[name] = process
        return process

    def start_web(self) -> None:
        self.start("web", [str(BACKEND_DIR / "bin" / "web")])
        self.wait_http(f"{self.web_url}/health/live", "web")

    def start_worker(self, name: str = "worker", script: str = "worker") -> None:
        self.start(name, [str(REPO_DIR / "worker" / "bin" / script)])

    def start_beat(self) -> None:
        self.start("beat", [str(REPO_DIR / "worker" / "bin" / "beat")])

    def start_flower(self) -> None:
        """Flower on a port of its own (FLOWER_PORT in extra_env, else a free one)."""
        self.extra_env.setdefault("FLOWER_PORT", str(free_port()))
        self.start("flower", [str(REPO_DIR / "worker" / "bin" / "flower")])
        self.wait_http(f"{self.flower_url}/healthcheck", "flower")

    def start_fake_gateway(self, token: str = "e2e-token") -> None:
        """Our fake SMS gateway (devtools/fake_gateway.py) on a free port; GATEWAY_URL and
        GATEWAY_TOKEN point the processes started after it there."""
        port = free_port()
        self.gateway_url = f"http://127.0.0.1:{port}"
        self.extra_env.update(GATEWAY_URL=self.gateway_url, GATEWAY_TOKEN=token)
        argv = [sys.executable, "-m", "devtools.fake_gateway", "--port", str(port), "--token", token]
        self.start("fake-gateway", argv)
        wait_until(lambda: requests.get(f"{self.gateway_url}/health", timeout=1).ok, timeout=20, what="fake gateway")

    @property
    def flower_url(self) -> str:
        return f"http://127.0.0.1:{self.extra_env['FLOWER_PORT']}"

    def start_nginx(self) -> None:
        self.start("nginx", [str(REPO_DIR / "nginx" / "bin" / "run-local")])
        self.wait_http(f"{self.nginx_url}/health/live", "nginx")

    def wait_http(self, url: str, name: str, timeout: float = 60) -> None:
        def answered() -> bool:
            process = self.processes[name]
            if process.popen.poll() is not None:
                raise ProcessExited(f"{name} exited with {process.popen.returncode}:\n{process.log_tail()}")
            return requests.get(url, timeout=2).status_code == 200

        try:
            wait_until(answered, timeout=timeout, what=f"{name} at {url}")
        except (TimeoutError, RuntimeError) as exc:
            raise RuntimeError(f"{exc}\n--- {name} log ---\n{self.processes[name].log_tail()}") from exc

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.popen.poll() is not None:
            return
        try:
            os.killpg(process.popen.pid, sig)
            process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_tail()}" for p in self.processes.values())


@contextmanager
def deployed_stack(**stack_options) -> Iterator[Stack]:
    """A prepared Stack in a directory of its own; afterwards its processes are stopped and
    its database and directory are gone. The caller starts the processes it needs."""
    # Not under pytest's private temp root: nginx's unprivileged workers read files here.
    work_dir = Path(tempfile.mkdtemp(prefix="r4c-stack-"))
    stack = Stack(work_dir=work_dir, **stack_options)
    try:
        stack.prepare()
        yield stack
    finally:
        stack.stop_all()
        stack.drop_database()
        shutil.rmtree(work_dir, ignore_errors=True)


class PrivateRedis:
    """A Redis server of one test module, on its own port, that the test may stop and start."""

    def __init__(self, work_dir: Path):
        self.port = free_port()
        self.work_dir = work_dir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.work_dir),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(
            lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout,
            timeout=10,
            what="private redis",
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class PrivatePostgres:
    """A PostgreSQL cluster of one test module (initdb in a temporary directory, its own port),
    run as the `postgres` system user, that the test may restart."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self, work_dir: Path):
        self.port = free_port()
        self.data_dir = work_dir / "pgdata"
        self.socket_dir = work_dir / "pgsocket"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        for directory in (self.data_dir, self.socket_dir):
            directory.mkdir(parents=True)
            if os.geteuid() == 0:
                shutil.chown(directory, "postgres", "postgres")
        self.data_dir.parent.chmod(0o755)
        self._as_postgres(
            str(self.BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "--no-sync"
        )

    def pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.BIN / "pg_ctl"),
            action,
            "-D",
            str(self.data_dir),
            "-m",
            "fast",
            "-w",
            "-o",
            options,
            "-l",
            str(self.socket_dir / "postgres.log"),
        )
