"""Robot ingest against the bare thing, and the cost of recycling web workers.

1. Single robot: POST /api/v1/robots/ against the bare Django app (bench/bare/: its own
   minimal settings, no middleware, no DRF, the same INSERT into robots_robot), both served
   by backend/bin/web with the same gunicorn configuration and worker count; load from wrk
   with 8 connections, the two alternated round by round. Also the API with an
   Idempotency-Key on every request.
2. Recycling: requests per second of wall-clock time over a window in which every worker
   is recycled several times (small GUNICORN_MAX_REQUESTS), with the application preloaded
   (config/gunicorn.py) and, for comparison, without (bench/gunicorn_no_preload.py), and
   with recycling off.
3. Batch: POST /api/v1/robots/batch/ (1000 robots a request) against `psql \\copy` of the
   same rows from a file into the same table.

Targets (issue 16): single ≥ 0.50 of the bare view; no dip while workers recycle; batch ≥
0.25 of COPY.
"""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from tables import children, figure, markdown_table, process_cpu_seconds, tcp_connections, write_markdown

CONNECTIONS = 8
ROBOT_BODY = '{"model": "R2", "version": "D2", "created": "{created}"}'
BATCH_SIZE = 1000
BATCH_CONCURRENCY = 4
BENCH_DIR = Path(__file__).resolve().parents[1]


def catalog(ctx) -> int:
    """R2-D2 in the catalog; returns the version's id."""
    ctx.psql("INSERT INTO robots_robotmodel (code, name, created_at) VALUES ('R2', 'Astromech', now())")
    ctx.psql(
        "INSERT INTO robots_robotversion (model_id, code, created_at) "
        "SELECT id, 'D2', now() FROM robots_robotmodel WHERE code = 'R2'"
    )
    return ctx.psql("SELECT v.id FROM robots_robotversion v JOIN robots_robotmodel m ON m.id = v.model_id")[0][0]


def _median(runs: list[dict], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 2)


def _assert_clean(run: dict, what: str) -> None:
    if any(run["errors"].values()):
        raise RuntimeError(f"{what}: errors {run['errors']}")


def single(ctx, version_id: int, auth: dict) -> dict:
    seconds = ctx.sized(small=4, full=10)
    rounds = ctx.sized(small=1, full=3)
    bare_url = ctx.start_bare_web()
    try:
        bare_headers = {"X-Version-Id": str(version_id)}
        # Warm both (connections, first imports), then alternate so a neighbour's load weighs on both.
        ctx.wrk("/api/v1/robots/", body=ROBOT_BODY, headers=auth, seconds=2, connections=CONNECTIONS)
        ctx.wrk(f"{bare_url}/robots/", body=ROBOT_BODY, headers=bare_headers, seconds=2, connections=CONNECTIONS)
        api, bare = [], []
        for _ in range(rounds):
            api.append(ctx.wrk("/api/v1/robots/", body=ROBOT_BODY, headers=auth, seconds=seconds))
            bare.append(ctx.wrk(f"{bare_url}/robots/", body=ROBOT_BODY, headers=bare_headers, seconds=seconds))
        idempotent = ctx.wrk(
            "/api/v1/robots/", body=ROBOT_BODY, headers={**auth, "Idempotency-Key": "bench-{run}-{n}"}, seconds=seconds
        )
    finally:
        ctx.stop_bare_web()
    for run in [*api, *bare, idempotent]:
        _assert_clean(run, "single robot")
    return {"api": api, "bare": bare, "api_with_idempotency_key": idempotent}


class WorkerWatch:
    """Counts the gunicorn workers that a master starts while it runs (a recycle starts one)."""

    def __init__(self, master_pid: int):
        self.master_pid = master_pid
        self.seen: set[int] = set(children(master_pid))
        self.initial = len(self.seen)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            self.seen.update(children(self.master_pid))

    def __enter__(self) -> WorkerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def started(self) -> int:
        return len(self.seen) - self.initial


def worker_boot(master_pid: int) -> dict:
    """What starting one more worker costs, on an idle server: the master is asked for one more
    (SIGTTIN); the new worker's CPU seconds and wall seconds until its CPU stops moving (it
    then waits in accept()); then the master goes back to its worker count (SIGTTOU)."""
    from tests.stack import wait_until

    before = set(children(master_pid))
    started = time.perf_counter()
    os.kill(master_pid, signal.SIGTTIN)
    [pid] = wait_until(lambda: set(children(master_pid)) - before, timeout=30, interval=0.005, what="a new worker")
    readings: list[tuple[float, float]] = []

    def settled() -> bool:
        readings.append((time.perf_counter(), process_cpu_seconds(pid)))
        recent = [cpu for at, cpu in readings if at >= readings[-1][0] - 0.5]
        return readings[-1][0] - started > 0.6 and len(set(recent)) == 1

    wait_until(settled, timeout=60, interval=0.02, what="the new worker to settle")
    cpu = readings[-1][1]
    wall = next(at for at, seen in readings if seen == cpu) - started
    os.kill(master_pid, signal.SIGTTOU)
    wait_until(lambda: len(children(master_pid)) == len(before), timeout=30, what="the worker count to settle")
    return {"cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3)}


def recycling(ctx, auth: dict) -> dict:
    seconds = ctx.sized(small=12, full=30)
    max_requests = str(ctx.sized(small=300, full=500))
    from tests.stack import BACKEND_DIR, VENV_BIN

    no_preload = [str(VENV_BIN / "gunicorn"), "--config", str(BENCH_DIR / "gunicorn_no_preload.py"), "config.wsgi"]
    configurations = [
        ("recycling off", None, {"GUNICORN_MAX_REQUESTS": "0"}),
        (f"max_requests={max_requests}, preloaded", None, {"GUNICORN_MAX_REQUESTS": max_requests}),
        (
            f"max_requests={max_requests}, not preloaded",
            no_preload,
            {"GUNICORN_MAX_REQUESTS": max_requests, "PYTHONPATH": str(BACKEND_DIR)},
        ),
    ]
    runs = {}
    try:
        for label, argv, env in configurations:
            ctx.restart_web(argv, **env)
            ctx.wrk("/api/v1/robots/", body=ROBOT_BODY, headers=auth, seconds=2)  # connections, first requests
            with WorkerWatch(ctx.stack.processes["web"].popen.pid) as watch:
                run = ctx.wrk("/api/v1/robots/", body=ROBOT_BODY, headers=auth, seconds=seconds, timeline=True)
            if argv is None:  # our configuration must answer every request; the comparison may not
                _assert_clean(run, label)
            run["workers_started"] = watch.started
            run["worker_boot"] = worker_boot(ctx.stack.processes["web"].popen.pid)
            runs[label] = run
    finally:
        ctx.restart_web()
    return runs


def _robots_file(path: Path, version_id: int, count: int) -> None:
    start = datetime(2023, 9, 1, 8, 0, 0)
    with path.open("w") as out:
        for i in range(count):
            created = (start + timedelta(seconds=i)).isoformat(sep=" ")
            out.write(f"{version_id}\tR2-D2\tR2\tD2\t{created}+03\t2023-10-01 00:00:00+00\n")


def batch(ctx, version_id: int, auth: dict) -> dict:
    robots = ctx.sized(small=20_000, full=100_000)
    start = datetime(2023, 10, 1, 8, 0, 0)
    body = [
        {"model": "R2", "version": "D2", "created": (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")}
        for i in range(BATCH_SIZE)
    ]
    ctx.load(path="/api/v1/robots/batch/", bodies=[body], concurrency=BATCH_CONCURRENCY, requests=8, headers=auth)
    api = ctx.load(
        path="/api/v1/robots/batch/",
        bodies=[body],
        concurrency=BATCH_CONCURRENCY,
        requests=robots // BATCH_SIZE,
        headers=auth,
    )
    if api["statuses"] != {"201": robots // BATCH_SIZE}:
        raise RuntimeError(f"batch: {api['statuses']}")
    path = ctx.work_dir / "robots-batch.tsv"
    _robots_file(path, version_id, robots)
    columns = ["robot_version_id", "serial", "model", "version", "created", "created_at"]
    ctx.copy_from_file("robots_robot", columns, path)  # warm: the table's pages and indexes
    copy_seconds = ctx.copy_from_file("robots_robot", columns, path)
    path.unlink()
    return {
        "robots": robots,
        "api": api,
        "api_robots_per_second": robots / api["seconds"],
        "copy_seconds": copy_seconds,
        "copy_robots_per_second": robots / copy_seconds,
    }


def _recycling_figure(runs: dict) -> str:
    def draw(axes):
        for label, run in runs.items():
            axes.plot(
                range(1, len(run["timeline"]) + 1),
                run["timeline"],
                label=f"{label} ({run['workers_started']} recycles)",
            )
        axes.set_ylim(bottom=0)

    return figure(
        "robots_recycling",
        draw,
        title="POST /api/v1/robots/ while gunicorn recycles its workers (wrk, 8 connections)",
        xlabel="second of the run",
        ylabel="answers per second",
    )


def run(ctx) -> dict:
    version_id = catalog(ctx)
    auth = {"Authorization": f"Token {ctx.token('production_line')}"}
    single_runs = single(ctx, version_id, auth)
    # Preloading must not hand a socket (PostgreSQL, Redis) down to the workers it forks.
    master_sockets = tcp_connections(ctx.stack.processes["web"].popen.pid)
    recycle_runs = recycling(ctx, auth)
    batch_figures = batch(ctx, version_id, auth)

    api, bare = single_runs["api"], single_runs["bare"]
    api_rps, bare_rps = _median(api, "requests_per_second"), _median(bare, "requests_per_second")
    workers = ctx.stack.env.get("WEB_CONCURRENCY")
    single_rows = [
        [
            "POST /api/v1/robots/ (no Idempotency-Key)",
            api_rps,
            _median(api, "p50_ms"),
            _median(api, "p99_ms"),
            _median(api, "load_generator_cpu"),
        ],
        [
            "POST /api/v1/robots/ with an Idempotency-Key",
            single_runs["api_with_idempotency_key"]["requests_per_second"],
            single_runs["api_with_idempotency_key"]["p50_ms"],
            single_runs["api_with_idempotency_key"]["p99_ms"],
            single_runs["api_with_idempotency_key"]["load_generator_cpu"],
        ],
        [
            "bare Django view (bench/bare), same INSERT",
            bare_rps,
            _median(bare, "p50_ms"),
            _median(bare, "p99_ms"),
            _median(bare, "load_generator_cpu"),
        ],
    ]
    recycle_rows = []
    for label, recycle in recycle_runs.items():
        timeline = recycle["timeline"]
        recycle_rows.append(
            [
                label,
                recycle["workers_started"],
                recycle["requests_per_second"],
                min(timeline) if timeline else "",
                round(statistics.median(timeline)) if timeline else "",
                recycle["p99_ms"],
                f"{recycle['worker_boot']['cpu_seconds']} / {recycle['worker_boot']['wall_seconds']}",
                recycle["errors"]["timeout"],
            ]
        )
    figure_name = _recycling_figure(recycle_runs)
    ratio = round(api_rps / bare_rps, 3)
    batch_ratio = round(batch_figures["api_robots_per_second"] / batch_figures["copy_robots_per_second"], 3)
    table_name = write_markdown(
        "robots",
        "Robot ingest against the bare thing",
        [
            f"Command: `BENCH_SCALE={ctx.scale} make bench BENCH=robots`. gunicorn workers: {workers} "
            f"(sync), wrk: 1 thread, {CONNECTIONS} connections; medians of the rounds. "
            "`wrk CPU` is the load generator's own CPU use (1.0 = one core).",
            "## Single robot",
            markdown_table(["what", "requests/s", "p50 ms", "p99 ms", "wrk CPU"], single_rows),
            f"Ratio API / bare view (target ≥ 0.50): **{ratio}**",
            f"TCP connections held by the gunicorn master after preloading and the load (must be 0, "
            f"or a worker would share them): {len(master_sockets)}",
            "## Recycling",
            markdown_table(
                [
                    "gunicorn",
                    "workers started",
                    "requests/s",
                    "worst second",
                    "median second",
                    "p99 ms",
                    "a new worker's boot: CPU s / wall s",
                    "requests unanswered in 10 s",
                ],
                recycle_rows,
            ),
            f"![answers per second]({figure_name})",
            "## Batch",
            markdown_table(
                ["what", "robots/s"],
                [
                    [
                        f"POST /api/v1/robots/batch/ ({BATCH_SIZE} a request, {BATCH_CONCURRENCY} in flight)",
                        round(batch_figures["api_robots_per_second"]),
                    ],
                    ["`psql \\copy robots_robot FROM file`", round(batch_figures["copy_robots_per_second"])],
                ],
            ),
            f"Ratio API / COPY (target ≥ 0.25): **{batch_ratio}**",
        ],
    )
    summary = {
        "gunicorn master: TCP connections it holds after preloading and load (must be 0)": len(master_sockets),
        "single robot: API requests/s (median)": api_rps,
        "single robot: API p50 / p99 ms": f"{_median(api, 'p50_ms')} / {_median(api, 'p99_ms')}",
        "single robot: bare view requests/s (median)": bare_rps,
        "single robot: bare view p50 / p99 ms": f"{_median(bare, 'p50_ms')} / {_median(bare, 'p99_ms')}",
        "single robot: ratio API / bare view (target ≥ 0.50)": ratio,
        "single robot: API with Idempotency-Key requests/s": single_runs["api_with_idempotency_key"][
            "requests_per_second"
        ],
        "single robot: wrk CPU (cores, API / bare)": f"{_median(api, 'load_generator_cpu')} / "
        f"{_median(bare, 'load_generator_cpu')}",
    }
    for row in recycle_rows:
        summary[f"recycling, {row[0]}: workers started / requests/s / worst second"] = f"{row[1]} / {row[2]} / {row[3]}"
        summary[f"recycling, {row[0]}: a new worker's boot CPU s / wall s (idle server)"] = row[6]
    summary.update(
        {
            "batch: API robots/s": round(batch_figures["api_robots_per_second"]),
            "batch: psql \\copy robots/s": round(batch_figures["copy_robots_per_second"]),
            "batch: ratio API / COPY (target ≥ 0.25)": batch_ratio,
        }
    )
    return {
        "single": single_runs,
        "recycling": recycle_runs,
        "batch": batch_figures,
        "master_tcp_connections": master_sockets,
        "tables": [table_name, figure_name],
        "summary": summary,
    }
