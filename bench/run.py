"""`make bench`: the project's benchmarks against the real processes on loopback.

    python bench/run.py [NAME ...]     (all benchmarks when no name is given)

Starts a private deployment (tests/stack.py: its own database, gunicorn with the
production worker settings, Redis), runs each benchmark module in bench/benchmarks/, and
writes bench/results/NAME.json and bench/results/latest.md. Never part of `make test`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
sys.path[:0] = [str(REPO_DIR / "backend"), str(BENCH_DIR)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")

import django  # noqa: E402

django.setup()

from tests.stack import Stack, deployed_stack  # noqa: E402

# gunicorn and Django as in production; the bench settings add the baseline views.
PRODUCTION_ENV = {
    "ENVIRONMENT": "production",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
    "GUNICORN_ACCESSLOG": "",
    "WEB_CONCURRENCY": os.environ.get("BENCH_WEB_CONCURRENCY", "4"),
    "DJANGO_SETTINGS_MODULE": "bench_settings",
    "PYTHONPATH": str(BENCH_DIR),
}


class BenchContext:
    """What a benchmark gets: the running stack, tokens, and the load generator."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.work_dir = stack.work_dir

    def token(self, role: str, username: str | None = None) -> str:
        return self.stack.api_token(username or f"bench-{role}", role)

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
    ) -> dict:
        """Drives `requests` requests at `path` from a separate process; returns its figures."""
        spec = {
            "url": f"{self.stack.web_url}{path}",
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
            timeout=1800,
        ).stdout
        return json.loads(output)

    def psql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.stack.database_url, autocommit=True) as conn:
            conn.execute(sql)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_markdown() -> None:
    """latest.md: the newest figures of every benchmark that has run on this machine."""
    lines = ["# Benchmark results", ""]
    for path in sorted(RESULTS_DIR.glob("*.json")):
        result = json.loads(path.read_text())
        lines += [f"## {path.stem}", "", f"Machine: {json.dumps(result.get('machine', {}))}", ""]
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in result.get("summary", {}).items()]
        lines.append("")
    (RESULTS_DIR / "latest.md").write_text("\n".join(lines))


def main(names: list[str]) -> None:
    available = sorted(path.stem for path in (BENCH_DIR / "benchmarks").glob("*.py") if not path.stem.startswith("_"))
    selected = names or available
    unknown = set(selected) - set(available)
    if unknown:
        sys.exit(f"unknown benchmarks: {sorted(unknown)}; available: {available}")
    RESULTS_DIR.mkdir(exist_ok=True)
    with deployed_stack(extra_env=PRODUCTION_ENV) as stack:
        stack.start_web()
        context = BenchContext(stack)
        for name in selected:
            module = importlib.import_module(f"benchmarks.{name}")
            print(f"--- {name}", flush=True)
            result = module.run(context)
            result["machine"] = machine()
            (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=2))
            for key, value in result.get("summary", {}).items():
                print(f"{name}: {key} = {value}", flush=True)
    write_markdown()


if __name__ == "__main__":
    main(sys.argv[1:])
