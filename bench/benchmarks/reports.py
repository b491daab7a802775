"""Weekly report generation over 1,000,000 robots in the period, against the bare aggregate query.

Loads the robots with COPY (plus robots outside the period, so the query has to pick its
range), vacuums the table as autovacuum would, then in the same run:
- the bare query: the selector's SQL sent with psycopg and fetched, nothing else;
- the report: POST /api/v1/reports/, built by a real worker (queue `reports`, one pool
  process), timed by the worker from the row lock to the file renamed into place
  (`build_seconds`), and from the request to `ready` as seen by a client;
- memory: the worker's pool process's RSS while idle, and its peak RSS (VmHWM) after the
  builds, read from /proc.

Targets (issue 5): the report within 2x the bare query's time; peak memory within 50 MiB
of the idle worker's.
"""

from __future__ import annotations

import io
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROBOTS_IN_PERIOD = 1_000_000
ROBOTS_OUTSIDE = 200_000  # the weeks before and after
MODELS = ["R2", "C3", "BB", "K2", "IG", "HK", "T1", "DR"]
VERSIONS = ["D2", "A1", "B1", "X7", "PO"]
RUNS = 5
ZONE = ZoneInfo("Europe/Moscow")
SINCE = datetime(2023, 10, 2, tzinfo=ZONE)
UNTIL = datetime(2023, 10, 9, tzinfo=ZONE)
BARE_SQL = """SELECT model, version, COUNT(*) FROM robots_robot
              WHERE created >= %s AND created < %s GROUP BY model, version ORDER BY model, version"""


def _copy_robots(database_url: str) -> float:
    """COPY the robots in text format, built in memory in chunks; returns rows/s."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        version_ids = {
            (model, version): pk
            for pk, model, version in conn.execute(
                "SELECT v.id, m.code, v.code FROM robots_robotversion v JOIN robots_robotmodel m ON m.id = v.model_id"
            )
        }
        pairs = sorted(version_ids)
        period_seconds = (UNTIL - SINCE).total_seconds()
        total = ROBOTS_IN_PERIOD + ROBOTS_OUTSIDE
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY robots_robot (robot_version_id, serial, model, version, created, created_at) FROM STDIN"
            ) as copy,
        ):
            buffer = io.StringIO()
            for i in range(total):
                model, version = pairs[(i * 7919) % len(pairs)]
                if i < ROBOTS_IN_PERIOD:
                    created = SINCE + timedelta(seconds=(i * period_seconds) / ROBOTS_IN_PERIOD)
                else:  # half in the week before, half in the week after
                    j = i - ROBOTS_IN_PERIOD
                    week = timedelta(seconds=(j % (ROBOTS_OUTSIDE // 2)) * period_seconds / (ROBOTS_OUTSIDE // 2))
                    created = (SINCE - timedelta(days=7) + week) if j % 2 else (UNTIL + week)
                buffer.write(
                    f"{version_ids[model, version]}\t{model}-{version}\t{model}\t{version}\t"
                    f"{created.isoformat()}\t{created.isoformat()}\n"
                )
                if i % 100_000 == 99_999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        conn.commit()
        return total / (time.perf_counter() - started)


def _bare_query(database_url: str) -> tuple[list[float], int, str]:
    """The selector's aggregate, bare: times of RUNS runs after a warm-up, robots counted, plan."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + BARE_SQL, [SINCE, UNTIL]))
        conn.execute(BARE_SQL, [SINCE, UNTIL]).fetchall()  # warm the cache like the builds will be
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            rows = conn.execute(BARE_SQL, [SINCE, UNTIL]).fetchall()
            times.append(time.perf_counter() - started)
        return times, sum(row[2] for row in rows), plan


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return children


def run(ctx) -> dict:
    import requests

    from tests.stack import wait_until

    stack = ctx.stack
    import psycopg

    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO robots_robotmodel (code, name, created_at) "
            "SELECT code, '', now() FROM unnest(%s::text[]) code",
            [MODELS],
        )
        conn.execute(
            "INSERT INTO robots_robotversion (model_id, code, created_at) "
            "SELECT m.id, v, now() FROM robots_robotmodel m, unnest(%s::text[]) v",
            [VERSIONS],
        )
    copy_rate = _copy_robots(stack.database_url)
    ctx.psql("VACUUM ANALYZE robots_robot")  # what autovacuum does after a bulk load: index-only scans

    api = requests.Session()
    api.headers["Authorization"] = f"Token {ctx.token('manager')}"
    saved = dict(stack.extra_env)
    stack.extra_env.update(WORKER_QUEUES="reports", WORKER_CONCURRENCY="1")
    stack.start_worker("report-worker")
    stack.extra_env.clear()
    stack.extra_env.update(saved)
    try:
        worker_pid = stack.processes["report-worker"].popen.pid
        wait_until(lambda: _children(worker_pid), timeout=60, what="the report worker's pool process")
        [pool_pid] = _children(worker_pid)
        # Idle: the pool process has finished starting when its RSS stops moving.
        readings: list[int] = []

        def settled() -> bool:
            readings.append(_status(pool_pid)["VmRSS"])
            return len(readings) > 10 and len(set(readings[-8:])) == 1

        wait_until(
            settled,
            timeout=60,
            interval=0.25,
            what="the pool process to settle",
        )
        idle = _status(pool_pid)

        bare_times, bare_robots, plan = _bare_query(stack.database_url)

        builds, latencies = [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            accepted = api.post(
                f"{stack.web_url}/api/v1/reports/",
                json={"since": SINCE.isoformat(), "until": UNTIL.isoformat()},
                timeout=30,
            )
            accepted.raise_for_status()
            location = f"{stack.web_url}{accepted.headers['Location']}"

            def ready(location=location):
                body = api.get(location, timeout=30).json()
                if body["status"] == "failed":
                    raise RuntimeError(f"the report failed: {body['error']}")
                return body if body["status"] == "ready" else None

            report = wait_until(ready, timeout=600, interval=0.01, what="the report")
            latencies.append(time.perf_counter() - started)
            builds.append(report["build_seconds"])
            assert report["robots"] == ROBOTS_IN_PERIOD == bare_robots, (report["robots"], bare_robots)
        peak = _status(pool_pid)
        assert _children(worker_pid) == [pool_pid], "the pool process was replaced during the run"
    finally:
        stack.stop("report-worker")

    bare = statistics.median(bare_times)
    build = statistics.median(builds)
    idle_mib = idle["VmRSS"] / 1024
    peak_mib = peak["VmHWM"] / 1024
    return {
        "robots_in_period": ROBOTS_IN_PERIOD,
        "robots_outside": ROBOTS_OUTSIDE,
        "model_versions": len(MODELS) * len(VERSIONS),
        "copy_robots_per_second": copy_rate,
        "bare_query_seconds": bare_times,
        "report_build_seconds": builds,
        "report_request_to_ready_seconds": latencies,
        "bare_query_plan": plan,
        "worker_pool_process_kib": {"idle": idle, "after_builds": peak},
        "report_file_size_bytes": report["size"],
        "summary": {
            "robots loaded with COPY (in period + outside)": f"{ROBOTS_IN_PERIOD:,} + {ROBOTS_OUTSIDE:,}",
            "COPY robots/s": round(copy_rate),
            "bare aggregate query s (median of 5)": round(bare, 4),
            "report build s in the worker (median of 5)": round(build, 4),
            "ratio report / bare query (target ≤ 2.0)": round(build / bare, 3),
            "report request → ready s, client side (median)": round(statistics.median(latencies), 4),
            "worker pool process RSS idle MiB": round(idle_mib, 1),
            "worker pool process peak RSS MiB (VmHWM)": round(peak_mib, 1),
            "peak − idle MiB (target ≤ 50)": round(peak_mib - idle_mib, 1),
            # Most of the table is in the period here, so PostgreSQL rightly scans it in parallel;
            # with years of history it reads the range from the covering index instead.
            "bare query plan, scan node": next(
                (line.strip(" ->") for line in plan.splitlines() if " Scan " in line), plan.splitlines()[0]
            ),
        },
    }
