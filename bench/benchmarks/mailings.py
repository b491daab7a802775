"""Mailing fan-out as the mailing grows, and one mailing worker process against two.

Customers are loaded with server-side COPY (one tag per mailing size). Each mailing is
created through the API and sent by the real mailing worker (queue `mailings`, with
GATEWAY_CONCURRENCY calls in flight per process) and beat, to the fake gateway answering in
20 ms. Its rate is messages/s from the mailing's start (the set-based insert of its
messages) to its last `sent` row. The baseline, in the same run: a bare asyncio + aiohttp
loop posting the same messages to the same gateway, in as many processes as the worker
has, with the same calls in flight per process (the limit of this machine).

Sizes: full 10k, 100k and 1M messages with two worker processes, and one process against
two at 100k; small 2k, 10k and 30k, and 10k. Also: the pool processes' peak RSS, and the
broker messages (send tasks) each mailing took. Writes bench/results/mailings.md and
mailings.png.

Target (issue 16): ≥ 0.85 of the bare loop, with one process and with two.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

# Imports of the project happen inside run(): this file is also the bare loop's script.

LATENCY_MS = 20
CONCURRENCY_PER_PROCESS = 50  # calls in flight per process (GATEWAY_CONCURRENCY)
CHUNK_SIZE = 1000
SENDERS = 4
TEXT = "Robots on sale!"


async def _bare_loop(url: str, first_id: int, count: int, concurrency: int) -> tuple[float, float]:
    """The baseline: the same POSTs, the same bodies, the same calls in flight; nothing else.
    Returns the wall-clock start and end (epoch seconds)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": "Bearer bench-token"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        next_id = first_id
        last_id = first_id + count

        async def sender() -> None:
            nonlocal next_id
            while next_id < last_id:
                message_id = next_id
                next_id += 1
                body = {"id": message_id, "phone": 79000000000 + message_id, "text": TEXT}
                async with session.post(f"{url}/v1/send/{message_id}", json=body) as response:
                    answer = await response.read()
                    assert response.status == 200 and json.loads(answer)["code"] == 0

        started = time.time()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return started, time.time()


def bare_rate(gateway_url: str, count: int, processes: int) -> float:
    """Messages/s of `processes` bare loops sharing `count` messages, from the first start to
    the last end (process start-up excluded)."""
    share = count // processes
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "bare",
                gateway_url,
                str(1 + i * share),
                str(share),
                str(CONCURRENCY_PER_PROCESS),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    spans = []
    for child in children:
        output, _ = child.communicate(timeout=3600)
        if child.returncode != 0:
            raise RuntimeError(f"bare loop failed ({child.returncode})")
        spans.append(json.loads(output))
    return share * processes / (max(end for _, end in spans) - min(start for start, _ in spans))


def load_customers(ctx, sizes: list[int]) -> None:
    """For each size, `size` customers with phones tagged `m<size>` (server-side COPY)."""
    import psycopg
    from psycopg import sql

    first = 0
    path = ctx.server_file("customers.tsv")
    with psycopg.connect(ctx.stack.database_url, autocommit=True) as conn:
        for size in sizes:
            conn.execute(
                sql.SQL(
                    "COPY (SELECT NULL, '79' || lpad(i::text, 9, '0'), '9' || substr(lpad(i::text, 9, '0'), 1, 2), "
                    "{tag}, 'Europe/Moscow', now(), now() FROM generate_series({first}::bigint, {last}::bigint) i) "
                    "TO {path}"
                ).format(
                    tag=sql.Literal(f"m{size}"),
                    first=sql.Literal(first),
                    last=sql.Literal(first + size - 1),
                    path=sql.Literal(str(path)),
                )
            )
            conn.execute(
                sql.SQL(
                    "COPY customers_customer (email, phone_number, operator_code, tag, timezone, created_at, "
                    "updated_at) FROM {path}"
                ).format(path=sql.Literal(str(path)))
            )
            first += size
        conn.execute("VACUUM ANALYZE customers_customer")
    path.unlink()


def platform_run(ctx, api, tag: str, count: int, processes: int) -> dict:
    """One mailing to the customers tagged `tag`, sent by `processes` worker processes."""
    import psycopg
    from django.utils import timezone

    from tables import children, process_memory_kib
    from tests.mailing_workers import SENDER, tasks_taken
    from tests.stack import wait_until

    stack = ctx.stack
    stack.extra_env["MAILING_WORKER_CONCURRENCY"] = str(processes)
    stack.start_worker("mailing-worker", "mailing-worker")

    def send_tasks() -> int:
        """The send tasks the mailing worker has taken up since it started (Celery's own count)."""
        return tasks_taken(stack, SENDER)

    try:
        worker_pid = stack.processes["mailing-worker"].popen.pid
        wait_until(lambda: len(children(worker_pid)) == processes, timeout=60, what="the mailing worker's pool")
        tasks_before = send_tasks()
        now = timezone.now()
        created = api.post(
            f"{stack.web_url}/api/v1/mailings/",
            json={
                "start_at": now.isoformat(),
                "end_at": (now + timedelta(hours=2)).isoformat(),
                "text": TEXT,
                "filter_tag": tag,
            },
            timeout=30,
        )
        created.raise_for_status()
        mailing_id = created.json()["id"]
        peak_rss: dict[int, int] = {}

        def done():
            for pid in children(worker_pid):
                with contextlib.suppress(FileNotFoundError):  # a pool process just replaced
                    peak_rss[pid] = process_memory_kib(pid)["VmHWM"]
            stats = api.get(
                f"{stack.web_url}/api/v1/mailings/{mailing_id}/stats/", params={"page_size": 1}, timeout=30
            ).json()
            return stats["mailing"]["status"] == "finished" and stats

        stats = wait_until(done, timeout=3600, interval=0.5, what="the mailing to finish")
        with psycopg.connect(stack.database_url) as conn:
            started_at, last_sent = conn.execute(
                "SELECT g.started_at, max(m.sent_at) FROM mailings_mailing g "
                "JOIN mailings_message m ON m.mailing_id = g.id WHERE g.id = %s GROUP BY g.started_at",
                [mailing_id],
            ).fetchone()
        tasks = wait_until(lambda: send_tasks() - tasks_before or None, timeout=30, what="the task counts")
    finally:
        stack.stop("mailing-worker")
    sent = stats["counts"]["sent"]
    seconds = (last_sent - started_at).total_seconds()
    return {
        "messages": count,
        "sent": sent,
        "processes": processes,
        "seconds": round(seconds, 2),
        "messages_per_second": round(sent / seconds, 1),
        "pool_process_peak_rss_mib": round(max(peak_rss.values()) / 1024, 1) if peak_rss else None,
        "send_tasks": tasks,
        "counts": stats["counts"],
    }


def plot_rates(runs: list[dict]) -> str:
    """mailings.png: messages/s of the platform and of the bare loop against the mailing's size."""
    from tables import figure

    def draw(axes):
        two = [r for r in runs if r["processes"] == 2]
        axes.plot(
            [r["messages"] for r in two],
            [r["messages_per_second"] for r in two],
            "o-",
            label="platform, 2 worker processes",
        )
        axes.plot(
            [r["messages"] for r in two],
            [r["bare_messages_per_second"] for r in two],
            "s--",
            label="bare aiohttp loop, 2 processes",
        )
        for r in runs:
            if r["processes"] == 1:
                axes.plot(
                    [r["messages"]], [r["messages_per_second"]], "^", markersize=10, label="platform, 1 worker process"
                )
                axes.plot(
                    [r["messages"]], [r["bare_messages_per_second"]], "v", markersize=10, label="bare loop, 1 process"
                )
        axes.set_ylim(bottom=0)

    return figure(
        "mailings",
        draw,
        title=f"Mailing fan-out, gateway at {LATENCY_MS} ms",
        xlabel="messages in the mailing (log)",
        ylabel="messages/s",
        logx=True,
    )


def run(ctx) -> dict:
    import requests

    from tables import markdown_table, write_markdown
    from tests.stack import BACKEND_DIR, free_port, wait_until

    sizes = ctx.sized(small=[2_000, 10_000, 30_000], full=[10_000, 100_000, 1_000_000])
    one_process_size = ctx.sized(small=10_000, full=100_000)
    stack = ctx.stack
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    log = (stack.work_dir / "fake-gateway.log").open("ab")
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.fake_gateway",
            "--port",
            str(gateway_port),
            "--token",
            "bench-token",
            "--latency-ms",
            str(LATENCY_MS),
        ],
        cwd=BACKEND_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    control = requests.Session()
    runs = []
    try:
        wait_until(lambda: control.get(f"{gateway_url}/health", timeout=1).ok, timeout=20, what="fake gateway")
        load_customers(ctx, sizes)
        stack.extra_env.update(
            GATEWAY_URL=gateway_url,
            GATEWAY_TOKEN="bench-token",
            GATEWAY_CONCURRENCY=str(CONCURRENCY_PER_PROCESS),
            MAILING_CHUNK_SIZE=str(CHUNK_SIZE),
            MAILING_SENDERS=str(SENDERS),
        )
        stack.start_beat()
        api = requests.Session()
        api.headers["Authorization"] = f"Token {ctx.token('marketing')}"
        plan = [(size, 2) for size in sizes] + [(one_process_size, 1)]
        for size, processes in plan:
            control.post(f"{gateway_url}/_control/reset", timeout=10).raise_for_status()
            control.post(f"{gateway_url}/_control/faults", json={"latency_ms": LATENCY_MS}, timeout=10)
            bare = bare_rate(gateway_url, size, processes)
            control.post(f"{gateway_url}/_control/reset", timeout=10).raise_for_status()
            control.post(f"{gateway_url}/_control/faults", json={"latency_ms": LATENCY_MS}, timeout=10)
            platform = platform_run(ctx, api, f"m{size}", size, processes)
            gateway_stats = control.get(f"{gateway_url}/_control/stats", timeout=30).json()
            platform.update(
                bare_messages_per_second=round(bare, 1),
                ratio=round(platform["messages_per_second"] / bare, 3),
                gateway_duplicates=gateway_stats["duplicates"],
            )
            print(
                f"mailings: {size:,} messages, {processes} process(es): platform "
                f"{platform['messages_per_second']}/s, bare {bare:.0f}/s",
                flush=True,
            )
            runs.append(platform)
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
        stack.stop("beat")

    rows = [
        [
            f"{r['messages']:,}",
            r["processes"],
            f"{r['processes'] * CONCURRENCY_PER_PROCESS}",
            r["messages_per_second"],
            r["bare_messages_per_second"],
            f"{r['ratio']:.2f}",
            r["seconds"],
            r["pool_process_peak_rss_mib"],
            r["send_tasks"],
            r["gateway_duplicates"],
        ]
        for r in runs
    ]

    plot = plot_rates(runs)
    table = write_markdown(
        "mailings",
        "Mailings as they grow, and one worker process against two",
        [
            f"Command: `BENCH_SCALE={ctx.scale} make bench BENCH=mailings`. Fake gateway answering in "
            f"{LATENCY_MS} ms; {CONCURRENCY_PER_PROCESS} calls in flight per process (platform: "
            f"GATEWAY_CONCURRENCY; bare loop: the same), MAILING_CHUNK_SIZE={CHUNK_SIZE}, "
            f"MAILING_SENDERS={SENDERS}. Broker messages: send tasks the mailing took.",
            markdown_table(
                [
                    "messages",
                    "processes",
                    "in flight",
                    "platform msg/s",
                    "bare loop msg/s",
                    "ratio (≥ 0.85)",
                    "platform s",
                    "pool process peak RSS MiB",
                    "broker messages",
                    "gateway duplicates",
                ],
                rows,
            ),
            f"![messages per second]({plot})",
        ],
    )
    summary = {
        f"{r['messages']:,} messages, {r['processes']} process(es): platform / bare msg/s, ratio": (
            f"{r['messages_per_second']} / {r['bare_messages_per_second']}, {r['ratio']:.2f}"
        )
        for r in runs
    }
    summary.update(
        {
            f"{r['messages']:,} messages, {r['processes']} process(es): peak RSS MiB, broker messages": (
                f"{r['pool_process_peak_rss_mib']}, {r['send_tasks']}"
            )
            for r in runs
        }
    )
    return {"runs": runs, "tables": [table, plot], "summary": summary}


if __name__ == "__main__" and sys.argv[1:2] == ["bare"]:
    url, first_id, count, concurrency = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    print(json.dumps(asyncio.run(_bare_loop(url, first_id, count, concurrency))))
