"""Drives HTTP load with wrk (a native load generator) and reports its figures and its own CPU.

    run_wrk(url, body=..., headers=..., connections=8, seconds=15) -> dict

The figures: requests/s, latency percentiles (ms), errors by kind (`status` counts answers
that are not 2xx/3xx), optionally answers per second of wall-clock time, and the CPU the
load generator itself used (`load_generator_cpu`: CPU seconds / wall seconds, so 1.0 is
one core), which says whether the client, rather than the server, could be the limit.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from pathlib import Path

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"


def run_wrk(
    url: str,
    *,
    method: str = "POST",
    body: str = "",
    headers: dict[str, str] | None = None,
    connections: int = 8,
    threads: int = 1,
    seconds: float = 15,
    timeline: bool = False,
    timeout_seconds: int = 10,
) -> dict:
    """Runs wrk against `url`; returns its figures (see the module's docstring)."""
    run_id = f"{time.time_ns():x}"  # {run}: unique to this invocation (e.g. for Idempotency-Key)
    header_lines = {"Content-Type": "application/json", **(headers or {})}
    header_lines = {name: value.replace("{run}", run_id) for name, value in header_lines.items()}
    body = body.replace("{run}", run_id)
    env = {
        **os.environ,
        "WRK_METHOD": method,
        "WRK_BODY": body,
        "WRK_HEADERS": "\n".join(f"{name}: {value}" for name, value in header_lines.items()),
        "WRK_TIMELINE": "1" if timeline else "0",
    }
    argv = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={timeout_seconds}s",
        f"--script={WRK_SCRIPT}",
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    output = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    duration = raw["duration_us"] / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    latency = raw["latency_us"]
    timeline_counts = {int(second): count for second, count in raw["timeline"].items()}
    return {
        "connections": connections,
        "threads": threads,
        "seconds": round(duration, 3),
        "requests": raw["requests"],
        "requests_per_second": round(raw["requests"] / duration, 1),
        "p50_ms": round(latency["p50"] / 1000, 2),
        "p90_ms": round(latency["p90"] / 1000, 2),
        "p99_ms": round(latency["p99"] / 1000, 2),
        "p999_ms": round(latency["p999"] / 1000, 2),
        "max_ms": round(latency["max"] / 1000, 2),
        "mean_ms": round(latency["mean"] / 1000, 2),
        "errors": raw["errors"],
        "load_generator_cpu": round(cpu / wall, 3),
        "timeline": [timeline_counts[s] for s in sorted(timeline_counts)][1:-1] if timeline_counts else [],
    }
