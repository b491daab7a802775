"""Where each millisecond of a robot POST (and of a useradd) goes, inside the running process.

The API is served by backend/bin/web with one worker and the production settings plus
timing probes (bench/profiling/: a probe between every two middleware, timers around the
functions of profiling/spans.py, every SQL statement timed through Django's
execute_wrapper). wrk sends one request at a time (1 connection), so no request waits for
another and the times are the path's own. Writes bench/results/profile_robot_post.md and
profile_useradd.md: per middleware (exclusive), per span (inclusive), per SQL statement.

The probes cost a few microseconds a request (~40 clock reads); the totals are measured
with them on, and the client's latency is given beside the server's for comparison.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.robot_growth import sell_free_robots
from benchmarks.robots import ROBOT_BODY, catalog
from benchmarks.useradd import registration_bodies
from tables import markdown_table, write_markdown

BENCH_DIR = Path(__file__).resolve().parents[1]


def _drain(directory: Path) -> list[dict]:
    """Every record written so far; the files are emptied (the worker appends, O_APPEND)."""
    records = []
    for path in sorted(directory.glob("*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        path.write_text("")
    return records


def _ms(ns: float) -> float:
    return round(ns / 1e6, 3)


def summarise(records: list[dict]) -> dict:
    """Means per request (ms) of the middleware, spans and SQL statements over `records`."""
    count = len(records)
    totals = [r["total_ns"] for r in records]
    middleware = {}
    for position, name in enumerate(records[0]["middleware"]):
        values = [r["middleware_ns"][position] for r in records if r["middleware_ns"][position] is not None]
        middleware[name] = sum(values) / count
    spans: dict[str, list[float]] = {}
    for record in records:
        for name, (calls, ns) in record["spans"].items():
            entry = spans.setdefault(name, [0, 0])
            entry[0] += calls
            entry[1] += ns
    sql: dict[str, list[float]] = {}
    for record in records:
        for statement, (calls, ns) in record["sql"].items():
            entry = sql.setdefault(statement, [0, 0])
            entry[0] += calls
            entry[1] += ns
    return {
        "requests": count,
        "statuses": sorted({r["status"] for r in records}),
        "total_mean_ms": _ms(statistics.fmean(totals)),
        "total_median_ms": _ms(statistics.median(totals)),
        "cpu_mean_ms": _ms(statistics.fmean(r["cpu_ns"] for r in records)),
        "inner_mean_ms": _ms(statistics.fmean(r["inner_ns"] for r in records if r["inner_ns"] is not None)),
        "middleware_ms": {name: _ms(ns) for name, ns in middleware.items()},
        "spans": {name: {"calls": round(c / count, 2), "ms": _ms(ns / count)} for name, (c, ns) in spans.items()},
        "sql": {s: {"calls": round(c / count, 2), "ms": _ms(ns / count)} for s, (c, ns) in sql.items()},
        "sql_total_ms": _ms(sum(ns for _, ns in sql.values()) / count),
        "sql_statements_per_request": round(sum(c for c, _ in sql.values()) / count, 2),
    }


def _section(title: str, figures: dict, client: dict | None) -> list[str]:
    total = figures["total_mean_ms"]

    def share(ms: float) -> str:
        return f"{ms / total:.0%}" if total else ""

    lines = [
        f"## {title}",
        f"{figures['requests']} requests, statuses {figures['statuses']}. Django's share of a request "
        f"(WSGI handler, probes on): mean **{total} ms**, median {figures['total_median_ms']} ms, of which "
        f"{figures['cpu_mean_ms']} ms of the worker's CPU"
        " (the rest is waiting: for PostgreSQL, or for a core when the machine is busy)"
        + (
            f"; the client (wrk, 1 connection) saw p50 {client['p50_ms']} ms, "
            f"{client['requests_per_second']} requests/s on one worker."
            if client
            else "."
        ),
        "### Middleware (each on its own: its work before and after the middleware inside it)",
        markdown_table(
            ["middleware", "ms / request", "share"],
            [[name, ms, share(ms)] for name, ms in figures["middleware_ms"].items()]
            + [
                [
                    "(inside the last middleware: URL resolution and the view)",
                    figures["inner_mean_ms"],
                    share(figures["inner_mean_ms"]),
                ]
            ],
        ),
        "### Spans (inclusive: a span inside another counts in both)",
        markdown_table(
            ["span", "calls / request", "ms / request", "share"],
            [
                [name, value["calls"], value["ms"], share(value["ms"])]
                for name, value in figures["spans"].items()
                if value["calls"]
            ],
        ),
        f"### SQL ({figures['sql_statements_per_request']} statements a request, "
        f"{figures['sql_total_ms']} ms in the database driver; the health check's `SELECT 1` and "
        "COMMIT are spans above, not statements here)",
        markdown_table(
            ["statement", "calls / request", "ms / request"],
            [
                [f"`{statement.replace('|', '/')}`", value["calls"], value["ms"]]
                for statement, value in sorted(figures["sql"].items(), key=lambda item: -item[1]["ms"])
            ],
        ),
    ]
    return lines


def _waiting_orders(ctx, serial: str, count: int) -> None:
    ctx.psql(
        "INSERT INTO customers_customer (email, phone_number, operator_code, tag, timezone, created_at, updated_at) "
        "SELECT 'profile-' || i || '@bench.example', NULL, '', 'bench', 'Europe/Moscow', now(), now() "
        "FROM generate_series(1, %s::int) i",
        [count],
    )
    # Orders wait only while no robot of their serial is free: sell the robots posted so far.
    sell_free_robots(ctx, serial, customer_tag="bench")
    ctx.psql(
        "INSERT INTO orders_order (customer_id, robot_serial, status, created_at) "
        "SELECT id, %s, 'waiting', now() FROM customers_customer WHERE email LIKE 'profile-%%'",
        [serial],
    )


def run(ctx) -> dict:
    catalog(ctx)
    auth = {"Authorization": f"Token {ctx.token('production_line')}"}
    profile_dir = ctx.work_dir / "profile"
    seconds = ctx.sized(small=5, full=20)
    ctx.restart_web(
        DJANGO_SETTINGS_MODULE="profiling.settings",
        PYTHONPATH=str(BENCH_DIR),
        PROFILE_DIR=str(profile_dir),
        WEB_CONCURRENCY="1",
        THROTTLE_USERADD_RATE="100000/s",
    )
    scenarios = {}
    try:
        missing = json.loads((profile_dir / "missing.json").read_text())

        def robots(name: str, headers: dict) -> None:
            ctx.wrk("/api/v1/robots/", body=ROBOT_BODY, headers=headers, connections=1, seconds=2)
            _drain(profile_dir)
            client = ctx.wrk("/api/v1/robots/", body=ROBOT_BODY, headers=headers, connections=1, seconds=seconds)
            scenarios[name] = {"client": client, "server": summarise(_drain(profile_dir))}

        robots("POST /api/v1/robots/ (no order waits for R2-D2)", auth)
        robots("POST /api/v1/robots/ with an Idempotency-Key", {**auth, "Idempotency-Key": "profile-{run}-{n}"})
        _waiting_orders(ctx, "R2-D2", ctx.sized(small=2000, full=10_000))
        robots("POST /api/v1/robots/ while orders wait for R2-D2 (allocation + e-mail)", auth)

        registrations = ctx.sized(small=60, full=300)
        ctx.load(path="/api/v1/useradd/", bodies=registration_bodies("pw", 20), concurrency=1, requests=20)
        _drain(profile_dir)
        client = ctx.load(
            path="/api/v1/useradd/",
            bodies=registration_bodies("pm", registrations),
            concurrency=1,
            requests=registrations,
        )
        scenarios["POST /api/v1/useradd/"] = {"client": client, "server": summarise(_drain(profile_dir))}
    finally:
        ctx.restart_web()

    robot_sections = []
    for name, scenario in scenarios.items():
        if "robots" in name:
            robot_sections += _section(name, scenario["server"], scenario["client"])
    preface = [
        f"Command: `BENCH_SCALE={ctx.scale} make bench BENCH=profile` (bench/benchmarks/profile.py): one "
        "gunicorn worker, production settings plus timing probes (bench/profiling/), wrk with one connection. "
        "Times are means per request in ms.",
    ]
    if missing:
        preface.append(f"Spans whose code was not found (moved?): {missing}")
    robot_table = write_markdown("profile_robot_post", "Where the time of a robot POST goes", preface + robot_sections)
    useradd = scenarios["POST /api/v1/useradd/"]
    useradd_table = write_markdown(
        "profile_useradd",
        "Where the time of a useradd goes",
        preface + _section("POST /api/v1/useradd/", useradd["server"], None),
    )
    plain = scenarios["POST /api/v1/robots/ (no order waits for R2-D2)"]["server"]
    hashing = useradd["server"]["spans"].get("useradd: argon2id hash (the hasher)", {"ms": 0})["ms"]
    return {
        "scenarios": scenarios,
        "missing_spans": missing,
        "tables": [robot_table, useradd_table],
        "summary": {
            "robot POST: Django's share, mean ms (probes on) / of which worker CPU": f"{plain['total_mean_ms']} / "
            f"{plain['cpu_mean_ms']}",
            "robot POST: SQL statements / ms in the driver": f"{plain['sql_statements_per_request']} / "
            f"{plain['sql_total_ms']}",
            "robot POST: slowest middleware": max(plain["middleware_ms"].items(), key=lambda item: item[1]),
            "useradd: Django's share, mean ms": useradd["server"]["total_mean_ms"],
            "useradd: of which the argon2id hash ms": hashing,
            "spans not found": len(missing),
        },
    }
