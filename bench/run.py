"""`make bench`: the project's benchmarks against the real processes on loopback.

    python bench/run.py [NAME ...]     (all benchmarks when no name is given)
    BENCH_SCALE=small python bench/run.py robots     (a quick run with smaller sizes)

Each benchmark gets a private deployment of its own (tests/stack.py: a fresh database,
gunicorn with the production settings started by backend/bin/web, Redis), measures, and
writes bench/results/NAME.json, its tables and figures (NAME*.md, NAME*.png), and
bench/results/latest.md. Never part of `make test`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
sys.path[:0] = [str(REPO_DIR / "backend"), str(BENCH_DIR)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()
# The benchmarks print their own figures; the SMTP server's and matplotlib's chatter would bury them.
for _name in ("mail.log", "matplotlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)

from tests.stack import BACKEND_DIR, Stack, deployed_stack, free_port  # noqa: E402
from wrk import run_wrk  # noqa: E402

SCALE = os.environ.get("BENCH_SCALE", "full")
if SCALE not in {"small", "full"}:
    sys.exit("BENCH_SCALE must be 'small' or 'full'")

# gunicorn and Django as in production (config.settings, no benchmark code in the app).
PRODUCTION_ENV = {
    "ENVIRONMENT": "production",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
    "GUNICORN_ACCESSLOG": "",
    "WEB_CONCURRENCY": os.environ.get("BENCH_WEB_CONCURRENCY", "4"),
}


class BenchContext:
    """What a benchmark gets: the running stack, its scale, tokens, load generators, SQL."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.work_dir = stack.work_dir
        self.scale = SCALE
        self.results_dir = RESULTS_DIR
        self.bare_url = ""

    def sized(self, *, small, full):
        """The figure for this run's scale (BENCH_SCALE)."""
        return full if self.scale == "full" else small

    def token(self, role: str, username: str | None = None) -> str:
        return self.stack.api_token(username or f"bench-{role}", role)

    # --- the web processes -----------------------------------------------------------
    def restart_web(self, argv: list[str] | None = None, **env: str) -> None:
        """Restarts the API's gunicorn with `env` on top of the production settings, by
        backend/bin/web unless `argv` says otherwise."""
        self.stack.stop("web")
        saved = dict(self.stack.extra_env)
        self.stack.extra_env.update(env)
        try:
            if argv is None:
                self.stack.start_web()
            else:
                self.stack.start("web", argv)
                self.stack.wait_http(f"{self.stack.web_url}/health/live", "web")
        finally:
            self.stack.extra_env.clear()
            self.stack.extra_env.update(saved)

    def start_bare_web(self) -> str:
        """The bare baseline app (bench/bare/) served by the same command (backend/bin/web),
        gunicorn configuration and worker count as the API; returns its base URL."""
        port = free_port()
        saved = dict(self.stack.extra_env)
        self.stack.extra_env.update(
            GUNICORN_BIND=f"127.0.0.1:{port}",
            PYTHONPATH=str(BENCH_DIR),
            PROMETHEUS_MULTIPROC_DIR=str(self.work_dir / "prometheus-bare"),
        )
        try:
            self.stack.start("bare-web", [str(BACKEND_DIR / "bin" / "web"), "bare.wsgi"])
        finally:
            self.stack.extra_env.clear()
            self.stack.extra_env.update(saved)
        self.bare_url = f"http://127.0.0.1:{port}"
        # Any answer means it is up (GET on a POST view is a 405).
        self._wait_answering(f"{self.bare_url}/robots/", "bare-web")
        return self.bare_url

    def _wait_answering(self, url: str, name: str) -> None:
        import requests

        from tests.stack import ProcessExited, wait_until

        def answered() -> bool:
            process = self.stack.processes[name]
            if process.popen.poll() is not None:
                raise ProcessExited(f"{name} exited:\n{process.log_tail()}")
            return requests.get(url, timeout=2).status_code == 405

        wait_until(answered, timeout=60, what=name)

    def stop_bare_web(self) -> None:
        self.stack.stop("bare-web")

    # --- workers -----------------------------------------------------------------------
    def start_one_pool_worker(self, name: str, queues: str) -> tuple[int, int, dict[str, int]]:
        """A worker for `queues` with one pool process, once that process has settled (its RSS
        stopped moving); returns the worker's pid, the pool process's pid and its idle memory
        (tables.process_memory_kib)."""
        from tables import children, process_memory_kib
        from tests.stack import wait_until

        saved = dict(self.stack.extra_env)
        self.stack.extra_env.update(WORKER_QUEUES=queues, WORKER_CONCURRENCY="1")
        try:
            self.stack.start_worker(name)
        finally:
            self.stack.extra_env.clear()
            self.stack.extra_env.update(saved)
        worker_pid = self.stack.processes[name].popen.pid
        wait_until(lambda: children(worker_pid), timeout=60, what=f"the {name}'s pool process")
        [pool_pid] = children(worker_pid)
        readings: list[int] = []

        def settled() -> bool:
            readings.append(process_memory_kib(pool_pid)["VmRSS"])
            return len(readings) > 10 and len(set(readings[-8:])) == 1

        wait_until(settled, timeout=60, interval=0.25, what="the pool process to settle")
        return worker_pid, pool_pid, process_memory_kib(pool_pid)

    # --- load --------------------------------------------------------------------------
    def wrk(self, url: str, **options) -> dict:
        """wrk against `url` (absolute, or a path of the API); see wrk.run_wrk."""
        if url.startswith("/"):
            url = f"{self.stack.web_url}{url}"
        return run_wrk(url, **options)

    def load(
        self,
        *,
        path: str,
        bodies: list,
        concurrency: int,
        requests: int,
        method: str = "POST",
        headers: dict | None = None,
        idempotency_keys: str | None = None,
        base_url: str | None = None,
    ) -> dict:
        """Drives `requests` requests with an aiohttp client in a separate process (load.py),
        for bodies wrk cannot template (batches, unique registrations)."""
        spec = {
            "url": f"{base_url or self.stack.web_url}{path}",
            "method": method,
            "headers": headers or {},
            "bodies": bodies,
            "concurrency": concurrency,
            "requests": requests,
            "idempotency_keys": idempotency_keys,
        }
        spec_path = self.work_dir / f"load-{time.monotonic_ns()}.json"
        spec_path.write_text(json.dumps(spec))
        output = subprocess.run(
            [sys.executable, str(BENCH_DIR / "load.py"), str(spec_path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        ).stdout
        spec_path.unlink()
        return json.loads(output)

    # --- SQL ---------------------------------------------------------------------------
    def psql(self, sql: str, params: list | None = None) -> list[tuple]:
        """Runs one statement in autocommit; returns its rows (if any)."""
        import psycopg

        with psycopg.connect(self.stack.database_url, autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def server_file(self, name: str) -> Path:
        """A path PostgreSQL's server process may write and read (server-side COPY)."""
        directory = self.work_dir / "pgdata-files"
        directory.mkdir(exist_ok=True)
        directory.chmod(0o777)
        return directory / name

    def copy_from_file(self, table: str, columns: list[str], path: Path) -> float:
        """`psql \\copy TABLE (COLUMNS) FROM 'path'` (client-side COPY of a text file);
        returns the seconds it took, psql's start included."""
        command = f"\\copy {table} ({', '.join(columns)}) FROM '{path}'"
        started = time.perf_counter()
        subprocess.run(
            ["psql", "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", self.stack.database_url, "-c", command],
            check=True,
            capture_output=True,
            timeout=7200,
        )
        return time.perf_counter() - started


def machine() -> dict:
    with open("/proc/loadavg") as loadavg:
        load = loadavg.read().split()[:3]
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1_5_15": " ".join(load),
    }


def write_markdown() -> None:
    """latest.md: the newest figures of every benchmark that has run on this machine."""
    lines = [
        "# Benchmark results",
        "",
        "The newest figures of each benchmark (`make bench`; see bench/README.md). Each section",
        "says when it ran, at which scale, and how loaded the machine was (load average at the end).",
        "What the profile says about the robot POST and useradd, and what to change: [hot_path.md](hot_path.md).",
        "",
    ]
    for path in sorted(RESULTS_DIR.glob("*.json")):
        result = json.loads(path.read_text())
        lines += [f"## {path.stem}", ""]
        lines += [
            f"Run {result.get('finished', '?')}, scale `{result.get('scale', '?')}`, "
            f"command `{result.get('command', '')}`; machine: {json.dumps(result.get('machine', {}))}",
            "",
        ]
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in result.get("summary", {}).items()]
        for table in result.get("tables", []):
            lines += ["", f"See [{table}]({table})."]
        lines.append("")
    (RESULTS_DIR / "latest.md").write_text("\n".join(lines))


def main(names: list[str]) -> None:
    # The deployments' directories live in the checkout's var/ (ignored by git), apart from
    # /tmp, where test runs of other checkouts on the same machine make stacks of their own.
    temp_root = REPO_DIR / "var" / "bench"
    temp_root.mkdir(parents=True, exist_ok=True)
    temp_root.chmod(0o755)  # PostgreSQL's server reads and writes files for COPY below it
    tempfile.tempdir = str(temp_root)
    available = sorted(path.stem for path in (BENCH_DIR / "benchmarks").glob("*.py") if not path.stem.startswith("_"))
    selected = names or available
    unknown = set(selected) - set(available)
    if unknown:
        sys.exit(f"unknown benchmarks: {sorted(unknown)}; available: {available}")
    RESULTS_DIR.mkdir(exist_ok=True)
    for name in selected:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"--- {name} (scale {SCALE})", flush=True)
        started = time.perf_counter()
        load_at_start = machine()["load_average_1_5_15"]
        with deployed_stack(extra_env=dict(PRODUCTION_ENV)) as stack:
            stack.start_web()
            result = module.run(BenchContext(stack))
        result["scale"] = SCALE
        result["seconds"] = round(time.perf_counter() - started, 1)
        result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        result["command"] = f"BENCH_SCALE={SCALE} make bench BENCH={name}"
        result["machine"] = {**machine(), "load_average_at_start": load_at_start}
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        for key, value in result.get("summary", {}).items():
            print(f"{name}: {key} = {value}", flush=True)
        write_markdown()


if __name__ == "__main__":
    main(sys.argv[1:])
