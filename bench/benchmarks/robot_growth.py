"""How the cost of one robot POST grows with the robots table and the waiting orders.

For each size of robots_robot (full: 0, 1M, 10M; small: 0, 100k, 300k robots of 39 other
serials, loaded with server-side COPY from a file and vacuumed as autovacuum would), wrk
(8 connections) posts R2-D2 robots three times:
- with no waiting order;
- with 10,000 orders (small: 2,000) waiting for another serial (C3-PO);
- with 10,000 orders (small: 2,000) waiting for R2-D2 itself: every robot is then
  allocated to the oldest one, which queues its availability e-mail (a row and a Celery
  message) in the same transaction.
Writes bench/results/robot_growth.md and robot_growth.png (p50/p99 against table size).

Target (issue 16): the cost does not grow with the table or with other serials' orders.
"""

from __future__ import annotations

import statistics
import time

from psycopg import sql

from benchmarks.robots import ROBOT_BODY, catalog
from tables import figure, markdown_table, write_markdown

BULK_MODELS = ["C3", "BB", "K2", "IG", "HK", "T1", "DR", "R2"]
BULK_VERSIONS = ["A1", "B1", "X7", "PO", "D2"]
CONNECTIONS = 8
CONDITIONS = ["no waiting order", "orders waiting for another serial", "orders waiting for R2-D2"]


def machine_load() -> float:
    """The machine's 1-minute load average (2 cores: above 2, work waits for a core)."""
    with open("/proc/loadavg") as loadavg:
        return float(loadavg.read().split()[0])


def bulk_catalog(ctx) -> list[tuple[int, str, str]]:
    """Every (version id, model, version) of the bulk robots: all but R2-D2."""
    ctx.psql(
        "INSERT INTO robots_robotmodel (code, name, created_at) SELECT code, '', now() "
        "FROM unnest(%s::text[]) code ON CONFLICT DO NOTHING",
        [BULK_MODELS],
    )
    ctx.psql(
        "INSERT INTO robots_robotversion (model_id, code, created_at) "
        "SELECT m.id, v, now() FROM robots_robotmodel m, unnest(%s::text[]) v "
        "WHERE NOT (m.code = 'R2' AND v = 'D2') ON CONFLICT DO NOTHING",
        [BULK_VERSIONS],
    )
    rows = ctx.psql(
        "SELECT v.id, m.code, v.code FROM robots_robotversion v JOIN robots_robotmodel m ON m.id = v.model_id "
        "WHERE NOT (m.code = 'R2' AND v.code = 'D2') ORDER BY v.id"
    )
    return [(pk, model, version) for pk, model, version in rows]


def load_robots(ctx, versions: list[tuple[int, str, str]], first: int, count: int) -> float:
    """Robots number first .. first+count-1, spread over `versions`, three seconds apart from
    2020-01-01: written to a file by PostgreSQL, then loaded with COPY; returns COPY's rows/s."""
    path = ctx.server_file(f"robots-{first}-{count}.tsv")
    ids = sql.Literal([pk for pk, _, _ in versions])
    serials = sql.Literal([f"{m}-{v}" for _, m, v in versions])
    models = sql.Literal([m for _, m, _ in versions])
    codes = sql.Literal([v for _, _, v in versions])
    n = sql.Literal(len(versions))
    generate = sql.SQL(
        "COPY (SELECT ({ids}::bigint[])[1 + i % {n}], ({serials}::text[])[1 + i % {n}], "
        "({models}::text[])[1 + i % {n}], ({codes}::text[])[1 + i % {n}], "
        "timestamptz '2020-01-01 00:00:00+00' + i * interval '3 seconds', now() "
        "FROM generate_series({first}::bigint, {last}::bigint) AS i) TO {path}"
    ).format(
        ids=ids,
        serials=serials,
        models=models,
        codes=codes,
        n=n,
        first=sql.Literal(first),
        last=sql.Literal(first + count - 1),
        path=sql.Literal(str(path)),
    )
    import psycopg

    with psycopg.connect(ctx.stack.database_url, autocommit=True) as conn:
        conn.execute(generate)
        started = time.perf_counter()
        conn.execute(
            sql.SQL(
                "COPY robots_robot (robot_version_id, serial, model, version, created, created_at) FROM {path}"
            ).format(path=sql.Literal(str(path)))
        )
        rate = count / (time.perf_counter() - started)
    path.unlink()
    return rate


def sell_free_robots(ctx, serial: str, customer_tag: str = "growth") -> int:
    """Gives every free robot of `serial` a notified order, as allocation would have before
    an order could wait (orders wait only while no robot of their serial is free); returns
    how many robots of the serial are then sold."""
    ctx.psql(
        "INSERT INTO orders_order (customer_id, robot_serial, status, robot_id, created_at, notified_at) "
        "SELECT (SELECT min(id) FROM customers_customer WHERE tag = %s), r.serial, 'notified', r.id, "
        "now(), now() FROM robots_robot r LEFT JOIN orders_order o ON o.robot_id = r.id "
        "WHERE r.serial = %s AND o.id IS NULL",
        [customer_tag, serial],
    )
    return ctx.psql("SELECT count(*) FROM orders_order WHERE robot_serial = %s AND status = 'notified'", [serial])[0][0]


def waiting_orders(ctx, serial: str, count: int) -> int:
    """`count` orders waiting for `serial`, one per bench customer (created once), once every
    robot of the serial is sold; returns how many were sold."""
    existing = ctx.psql("SELECT count(*) FROM customers_customer WHERE tag = 'growth'")[0][0]
    if existing < count:
        ctx.psql(
            "INSERT INTO customers_customer (email, phone_number, operator_code, tag, timezone, created_at, "
            "updated_at) SELECT 'growth-' || i || '@bench.example', NULL, '', 'growth', 'Europe/Moscow', now(), now() "
            "FROM generate_series(%s::int, %s::int) i",
            [existing + 1, count],
        )
    sold = sell_free_robots(ctx, serial)
    ctx.psql(
        "INSERT INTO orders_order (customer_id, robot_serial, status, created_at) "
        "SELECT id, %s, 'waiting', now() FROM customers_customer WHERE tag = 'growth' ORDER BY id LIMIT %s",
        [serial, count],
    )
    ctx.psql("ANALYZE orders_order")
    return sold


def plot_latency(results: dict, connections: int) -> str:
    """robot_growth.png: p50 and p99 of each condition against the robots in the table."""
    rows = list(results.values())

    def draw(axes):
        positions = range(len(rows))
        for condition, colour in zip(CONDITIONS, ["tab:blue", "tab:orange", "tab:green"], strict=True):
            axes.plot(
                positions, [row[condition]["p50_ms"] for row in rows], "o-", color=colour, label=f"{condition}: p50"
            )
            axes.plot(
                positions, [row[condition]["p99_ms"] for row in rows], "s--", color=colour, label=f"{condition}: p99"
            )
        axes.set_xticks(list(positions), [f"{row['robots_in_table']:,}" for row in rows])
        axes.set_ylim(bottom=0)

    return figure(
        "robot_growth",
        draw,
        title=f"POST /api/v1/robots/ latency (wrk, {connections} connections) as the work grows",
        xlabel="robots in the table",
        ylabel="ms",
    )


def run(ctx) -> dict:
    sizes = ctx.sized(small=[0, 100_000, 300_000], full=[0, 1_000_000, 10_000_000])
    orders = ctx.sized(small=2_000, full=10_000)
    seconds = ctx.sized(small=4, full=10)
    rounds = ctx.sized(small=1, full=3)
    catalog(ctx)
    versions = bulk_catalog(ctx)
    auth = {"Authorization": f"Token {ctx.token('production_line')}"}
    loaded, copy_rates, results = 0, {}, {}
    for size in sizes:
        if size > loaded:
            copy_rates[size] = load_robots(ctx, versions, loaded, size - loaded)
            loaded = size
            ctx.psql("VACUUM ANALYZE robots_robot")
        in_table = ctx.psql("SELECT count(*) FROM robots_robot")[0][0]
        print(f"robot_growth: {in_table:,} robots in the table", flush=True)
        row = {"robots_in_table": in_table}
        runs: dict[str, list[dict]] = {condition: [] for condition in CONDITIONS}
        # The conditions alternate, round after round, so a neighbour's load weighs on all alike.
        for _ in range(rounds):
            for condition in CONDITIONS:
                sold = None
                if condition == CONDITIONS[1]:
                    waiting_orders(ctx, "C3-PO", orders)
                elif condition == CONDITIONS[2]:
                    sold = waiting_orders(ctx, "R2-D2", orders)
                ctx.wrk("/api/v1/robots/", body=ROBOT_BODY, headers=auth, seconds=2, connections=CONNECTIONS)
                result = ctx.wrk(
                    "/api/v1/robots/", body=ROBOT_BODY, headers=auth, seconds=seconds, connections=CONNECTIONS
                )
                if any(result["errors"].values()):
                    raise RuntimeError(f"{condition} at {size}: {result['errors']}")
                result["load_average"] = machine_load()
                result["robots_of_the_serial_sold_before"] = sold
                if condition != CONDITIONS[0]:
                    [(waiting_left,)] = ctx.psql("SELECT count(*) FROM orders_order WHERE status = 'waiting'")
                    result["waiting_left"] = waiting_left
                    ctx.psql("DELETE FROM orders_order WHERE status = 'waiting'")
                runs[condition].append(result)
        for condition, condition_runs in runs.items():
            row[condition] = {
                key: statistics.median(run[key] for run in condition_runs)
                for key in ("p50_ms", "p99_ms", "requests_per_second", "load_average")
            } | {"runs": condition_runs}
        results[size] = row

    headers = ["robots in the table"]
    for condition in CONDITIONS:
        headers += [f"{condition}: p50 ms", "p99 ms", "req/s"]
    headers += ["R2-D2 robots sold before", "load average"]
    rows = []
    for row in results.values():
        cells = [f"{row['robots_in_table']:,}"]
        for condition in CONDITIONS:
            cells += [row[condition]["p50_ms"], row[condition]["p99_ms"], row[condition]["requests_per_second"]]
        sold = [run["robots_of_the_serial_sold_before"] for run in row[CONDITIONS[2]]["runs"]]
        cells.append(" / ".join(f"{count:,}" for count in sold))
        cells.append(statistics.median(row[condition]["load_average"] for condition in CONDITIONS))
        rows.append(cells)

    plot = plot_latency(results, CONNECTIONS)
    table = write_markdown(
        "robot_growth",
        "Single robot POST as the robots table and the waiting orders grow",
        [
            f"Command: `BENCH_SCALE={ctx.scale} make bench BENCH=robot_growth`. gunicorn workers: "
            f"{ctx.stack.env.get('WEB_CONCURRENCY')}; wrk: {CONNECTIONS} connections, {seconds} s a run, medians "
            f"of {rounds} rounds in which the three conditions alternate (load average: the machine's, "
            "1 minute, during the cells; it has 2 cores). "
            f"Waiting orders: {orders:,} (another serial: C3-PO; the same serial: R2-D2, each robot then "
            "allocated and its e-mail queued), inserted once every robot of their serial is sold, as the "
            "platform keeps it (no order waits while a robot of its serial is free); the robots of R2-D2 "
            "sold before each round are given, since allocation looks for the oldest free one. "
            "Bulk robots: 39 other serials, loaded with server-side COPY.",
            markdown_table(headers, rows),
            "COPY rate of the loads (robots/s): "
            + ", ".join(f"up to {size:,}: {round(rate):,}" for size, rate in copy_rates.items()),
            f"![latency against table size]({plot})",
        ],
    )
    summary = {}
    for row in results.values():
        for condition in CONDITIONS:
            result = row[condition]
            summary[f"{row['robots_in_table']:,} robots, {condition}: p50 / p99 ms, req/s"] = (
                f"{result['p50_ms']} / {result['p99_ms']}, {result['requests_per_second']}"
            )
    return {"results": results, "copy_rates": copy_rates, "tables": [table, plot], "summary": summary}
