"""The weekly report at growing sizes, against the bare aggregate query.

For each size (full: 1,000,000 and 10,000,000 robots in the week; small: 100,000 and
300,000), robots are added with server-side COPY from a file PostgreSQL wrote (plus a fifth
as many in the weeks before and after, so the query has to pick its range), the table is
vacuumed as autovacuum would, and in the same run:
- the bare query: the selector's SQL sent with psycopg and fetched, nothing else;
- the report: POST /api/v1/reports/, built by a real worker (queue `reports`, one pool
  process), timed by the worker from the row lock to the file renamed into place
  (`build_seconds`), and from the request to `ready` as seen by a client;
- memory: the worker's pool process's RSS while idle, and its peak RSS (VmHWM) after the
  builds of each size, read from /proc (the same process throughout).
Writes bench/results/reports.md and reports.png.

Targets (issues 5 and 16): the report ≤ 1.5x the bare query at 1M robots and ≤ 2x at 10M;
peak memory flat (within 50 MiB of the idle worker's, whatever the size).
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from psycopg import sql

from tables import children, figure, markdown_table, process_memory_kib, write_markdown

MODELS = ["R2", "C3", "BB", "K2", "IG", "HK", "T1", "DR"]
VERSIONS = ["D2", "A1", "B1", "X7", "PO"]
ZONE = ZoneInfo("Europe/Moscow")
SINCE = datetime(2023, 10, 2, tzinfo=ZONE)
UNTIL = datetime(2023, 10, 9, tzinfo=ZONE)
BARE_SQL = """SELECT model, version, COUNT(*) FROM robots_robot
              WHERE created >= %s AND created < %s GROUP BY model, version ORDER BY model, version"""


def _load(ctx, first: int, count: int) -> float:
    """Robots first .. first+count-1 in the week (spread over it to the millisecond), and a
    fifth as many outside it (half the week before, half the week after); returns COPY's rows/s."""
    import psycopg

    versions = ctx.psql(
        "SELECT v.id, m.code, v.code FROM robots_robotversion v JOIN robots_robotmodel m ON m.id = v.model_id "
        "ORDER BY m.code, v.code"
    )
    week_ms = 7 * 24 * 3600 * 1000
    path = ctx.server_file(f"report-robots-{first}-{count}.tsv")
    pick = "(i * 7919) % {n}"
    generate = sql.SQL(
        "COPY (SELECT ({ids}::bigint[])[1 + " + pick + "], ({serials}::text[])[1 + " + pick + "], "
        "({models}::text[])[1 + " + pick + "], ({codes}::text[])[1 + " + pick + "], "
        "CASE WHEN i < {inside_end} THEN {since} + ((i * 997) % {week_ms}) * interval '1 millisecond' "
        "WHEN i % 2 = 0 THEN {since} - interval '7 days' + ((i * 997) % {week_ms}) * interval '1 millisecond' "
        "ELSE {until} + ((i * 997) % {week_ms}) * interval '1 millisecond' END, now() "
        "FROM generate_series({first}::bigint, {last}::bigint) AS i) TO {path}"
    )
    inside = generate.format(
        ids=sql.Literal([pk for pk, _, _ in versions]),
        serials=sql.Literal([f"{m}-{v}" for _, m, v in versions]),
        models=sql.Literal([m for _, m, _ in versions]),
        codes=sql.Literal([v for _, _, v in versions]),
        n=sql.Literal(len(versions)),
        inside_end=sql.Literal(first + count),
        since=sql.Literal(SINCE),
        until=sql.Literal(UNTIL),
        week_ms=sql.Literal(week_ms),
        first=sql.Literal(first),
        last=sql.Literal(first + count + count // 5 - 1),
        path=sql.Literal(str(path)),
    )
    with psycopg.connect(ctx.stack.database_url, autocommit=True) as conn:
        conn.execute(inside)
        started = time.perf_counter()
        conn.execute(
            sql.SQL(
                "COPY robots_robot (robot_version_id, serial, model, version, created, created_at) FROM {path}"
            ).format(path=sql.Literal(str(path)))
        )
        rate = (count + count // 5) / (time.perf_counter() - started)
    path.unlink()
    return rate


def _bare_query(database_url: str, runs: int) -> tuple[list[float], int, str]:
    """The selector's aggregate, bare: times of `runs` runs after a warm-up, robots counted, plan."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + BARE_SQL, [SINCE, UNTIL]))
        conn.execute(BARE_SQL, [SINCE, UNTIL]).fetchall()  # warm the cache like the builds will be
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            rows = conn.execute(BARE_SQL, [SINCE, UNTIL]).fetchall()
            times.append(time.perf_counter() - started)
        return times, sum(row[2] for row in rows), plan


def _build(ctx, api, robots_in_period: int) -> tuple[float, float, int]:
    """One report through the API; returns its build seconds, request → ready seconds, file size."""
    from tests.stack import wait_until

    started = time.perf_counter()
    accepted = api.post(
        f"{ctx.stack.web_url}/api/v1/reports/",
        json={"since": SINCE.isoformat(), "until": UNTIL.isoformat()},
        timeout=30,
    )
    accepted.raise_for_status()
    location = f"{ctx.stack.web_url}{accepted.headers['Location']}"

    def ready():
        body = api.get(location, timeout=30).json()
        if body["status"] == "failed":
            raise RuntimeError(f"the report failed: {body['error']}")
        return body if body["status"] == "ready" else None

    report = wait_until(ready, timeout=1200, interval=0.01, what="the report")
    latency = time.perf_counter() - started
    assert report["robots"] == robots_in_period, (report["robots"], robots_in_period)
    return report["build_seconds"], latency, report["size"]


def run(ctx) -> dict:
    import requests

    from tests.stack import wait_until

    sizes = ctx.sized(small=[100_000, 300_000], full=[1_000_000, 10_000_000])
    runs = ctx.sized(small=3, full=5)
    stack = ctx.stack
    ctx.psql(
        "INSERT INTO robots_robotmodel (code, name, created_at) SELECT code, '', now() FROM unnest(%s::text[]) code",
        [MODELS],
    )
    ctx.psql(
        "INSERT INTO robots_robotversion (model_id, code, created_at) "
        "SELECT m.id, v, now() FROM robots_robotmodel m, unnest(%s::text[]) v",
        [VERSIONS],
    )
    api = requests.Session()
    api.headers["Authorization"] = f"Token {ctx.token('manager')}"
    saved = dict(stack.extra_env)
    stack.extra_env.update(WORKER_QUEUES="reports", WORKER_CONCURRENCY="1")
    stack.start_worker("report-worker")
    stack.extra_env.clear()
    stack.extra_env.update(saved)
    results = {}
    try:
        worker_pid = stack.processes["report-worker"].popen.pid
        wait_until(lambda: children(worker_pid), timeout=60, what="the report worker's pool process")
        [pool_pid] = children(worker_pid)
        # Idle: the pool process has finished starting when its RSS stops moving.
        readings: list[int] = []

        def settled() -> bool:
            readings.append(process_memory_kib(pool_pid)["VmRSS"])
            return len(readings) > 10 and len(set(readings[-8:])) == 1

        wait_until(settled, timeout=60, interval=0.25, what="the pool process to settle")
        idle = process_memory_kib(pool_pid)
        loaded = 0
        for size in sizes:
            copy_rate = _load(ctx, loaded, size - loaded)
            loaded = size
            ctx.psql("VACUUM ANALYZE robots_robot")  # what autovacuum does after a bulk load
            bare_times, bare_robots, plan = _bare_query(stack.database_url, runs)
            assert bare_robots == size, (bare_robots, size)
            builds, latencies = [], []
            for _ in range(runs):
                build, latency, file_size = _build(ctx, api, size)
                builds.append(build)
                latencies.append(latency)
            results[size] = {
                "copy_robots_per_second": copy_rate,
                "bare_query_seconds": bare_times,
                "report_build_seconds": builds,
                "report_request_to_ready_seconds": latencies,
                "bare_query_plan": plan,
                "pool_process_kib": process_memory_kib(pool_pid),
                "report_file_size_bytes": file_size,
            }
            print(
                f"reports: {size:,} robots: bare {statistics.median(bare_times):.3f} s, "
                f"build {statistics.median(builds):.3f} s",
                flush=True,
            )
        assert children(worker_pid) == [pool_pid], "the pool process was replaced during the run"
    finally:
        stack.stop("report-worker")

    idle_mib = idle["VmRSS"] / 1024
    rows, summary = [], {}
    for size, result in results.items():
        bare = statistics.median(result["bare_query_seconds"])
        build = statistics.median(result["report_build_seconds"])
        peak_mib = result["pool_process_kib"]["VmHWM"] / 1024
        target = 1.5 if size <= 1_000_000 else 2.0
        scan = next((line.strip(" ->") for line in result["bare_query_plan"].splitlines() if " Scan " in line), "")
        rows.append(
            [
                f"{size:,}",
                round(bare, 3),
                round(build, 3),
                f"{build / bare:.2f} (≤ {target})",
                round(statistics.median(result["report_request_to_ready_seconds"]), 3),
                round(peak_mib, 1),
                round(peak_mib - idle_mib, 1),
                scan.split("  (")[0],
            ]
        )
        summary[f"{size:,} robots: bare query s / report build s / ratio (target ≤ {target})"] = (
            f"{round(bare, 3)} / {round(build, 3)} / {build / bare:.2f}"
        )
        summary[f"{size:,} robots: worker peak RSS MiB (idle {round(idle_mib, 1)})"] = round(peak_mib, 1)

    def draw_time(axes):
        xs = list(results)
        axes.plot(
            xs,
            [statistics.median(r["bare_query_seconds"]) for r in results.values()],
            "o-",
            label="bare aggregate query",
        )
        axes.plot(
            xs,
            [statistics.median(r["report_build_seconds"]) for r in results.values()],
            "s-",
            label="report build (worker)",
        )
        axes.set_ylim(bottom=0)

    plot = figure(
        "reports",
        draw_time,
        title="Weekly report build time against the bare query",
        xlabel="robots in the week",
        ylabel="seconds (median)",
    )
    table = write_markdown(
        "reports",
        "The weekly report as the robots grow",
        [
            f"Command: `BENCH_SCALE={ctx.scale} make bench BENCH=reports`. Medians of {runs} runs; one "
            "worker pool process throughout (its RSS idle before the first build: "
            f"{round(idle_mib, 1)} MiB). A fifth as many robots again lie outside the week.",
            markdown_table(
                [
                    "robots in the week",
                    "bare query s",
                    "report build s",
                    "ratio",
                    "request → ready s",
                    "worker peak RSS MiB",
                    "peak − idle MiB",
                    "bare query plan",
                ],
                rows,
            ),
            f"![build time]({plot})",
        ],
    )
    return {"idle_kib": idle, "results": results, "tables": [table, plot], "summary": summary}
