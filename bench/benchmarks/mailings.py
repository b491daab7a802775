"""Mailing fan-out: 100,000 customers through the fake gateway answering in 20 ms.

Figure: messages/s end to end (the mailing's start, i.e. the set-based insert of its
messages, to its last `sent` row) through the real processes (web, mailing worker, beat),
against a bare asyncio + aiohttp loop posting the same messages to the same fake gateway
with the same number of calls in flight, in the same run (the limit of this machine).
Target (issue 7): ≥ 50% of the bare loop's rate.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

# Imports of the project happen inside run(): this file is also the bare loop's script.

CUSTOMERS = 100_000
LATENCY_MS = 20
WORKER_PROCESSES = 2
CONCURRENCY_PER_PROCESS = 50  # calls in flight per mailing worker process (GATEWAY_CONCURRENCY)
CHUNK_SIZE = 1000
SENDERS = 4
TOTAL_CONCURRENCY = WORKER_PROCESSES * CONCURRENCY_PER_PROCESS


def _customers_copy(database_url: str, count: int) -> float:
    """Loads `count` customers with phones in one COPY; returns the seconds it took."""
    import psycopg

    buffer = io.StringIO()
    for i in range(count):
        phone = f"79{i:09d}"
        buffer.write(
            f"\\N\t{phone}\t{phone[1:4]}\tbench\tEurope/Moscow\t2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\n"
        )
    started = time.perf_counter()
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY customers_customer (email, phone_number, operator_code, tag, timezone, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())
        conn.commit()
    return time.perf_counter() - started


async def _bare_loop(url: str, count: int, concurrency: int) -> float:
    """The baseline: the same POSTs, the same bodies, the same calls in flight; nothing else."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": "Bearer bench-token"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(message_id: int) -> None:
            body = {"id": message_id, "phone": 79000000000 + message_id, "text": "Robots on sale!"}
            async with semaphore, session.post(f"{url}/v1/send/{message_id}", json=body) as response:
                answer = await response.read()
                assert response.status == 200 and json.loads(answer)["code"] == 0

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(1, count + 1)))
        return count / (time.perf_counter() - started)


def run(ctx) -> dict:
    import requests
    from django.utils import timezone

    from tests.stack import BACKEND_DIR, free_port, wait_until

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
    try:
        wait_until(lambda: requests.get(f"{gateway_url}/health", timeout=1).ok, timeout=20, what="fake gateway")
        copy_seconds = _customers_copy(stack.database_url, CUSTOMERS)

        # 1. the bare loop, in a process of its own like the workers
        bare_rate = float(
            subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "bare",
                    gateway_url,
                    str(CUSTOMERS),
                    str(TOTAL_CONCURRENCY),
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=1800,
                cwd=BACKEND_DIR,
            ).stdout.strip()
        )
        print(f"mailings: bare aiohttp loop {bare_rate:.0f} messages/s", flush=True)
        requests.post(f"{gateway_url}/_control/reset", timeout=10).raise_for_status()
        requests.post(f"{gateway_url}/_control/faults", json={"latency_ms": LATENCY_MS}, timeout=10).raise_for_status()

        # 2. the platform: a mailing created through the API, sent by the mailing worker
        stack.extra_env.update(
            GATEWAY_URL=gateway_url,
            GATEWAY_TOKEN="bench-token",
            GATEWAY_CONCURRENCY=str(CONCURRENCY_PER_PROCESS),
            MAILING_WORKER_CONCURRENCY=str(WORKER_PROCESSES),
            MAILING_CHUNK_SIZE=str(CHUNK_SIZE),
            MAILING_SENDERS=str(SENDERS),
        )
        stack.start_worker("mailing-worker", "mailing-worker")
        stack.start_beat()
        token = ctx.token("marketing")
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        # The clock starts when a worker starts the mailing (started_at), so its boot does not count.
        now = timezone.now()
        created = api.post(
            f"{stack.web_url}/api/v1/mailings/",
            json={
                "start_at": now.isoformat(),
                "end_at": (now + timedelta(hours=1)).isoformat(),
                "text": "Robots on sale!",
                "filter_tag": "bench",
            },
            timeout=30,
        )
        created.raise_for_status()
        mailing_id = created.json()["id"]
        posted = time.perf_counter()

        def done():
            stats = api.get(f"{stack.web_url}/api/v1/mailings/{mailing_id}/stats/", params={"page_size": 1}, timeout=30)
            body = stats.json()
            return body["mailing"]["status"] == "finished" and body

        stats = wait_until(done, timeout=1800, interval=0.5, what="the mailing to finish")
        wall = time.perf_counter() - posted
        import psycopg

        with psycopg.connect(stack.database_url) as conn:
            started_at, last_sent, first_sent = conn.execute(
                "SELECT g.started_at, max(m.sent_at), min(m.sent_at) FROM mailings_mailing g "
                "JOIN mailings_message m ON m.mailing_id = g.id WHERE g.id = %s GROUP BY g.started_at",
                [mailing_id],
            ).fetchone()
        import redis

        tasks = redis.Redis.from_url(stack.broker_url, decode_responses=True).hgetall("r4c:metrics:celery_tasks")
        send_tasks = sum(int(v) for k, v in tasks.items() if k.startswith("mailings.tasks.mailing_send_task|"))
        gateway_stats = requests.get(f"{gateway_url}/_control/stats", timeout=10).json()
    finally:
        gateway.terminate()
        gateway.wait(timeout=10)
        stack.stop("beat")
        stack.stop("mailing-worker")

    seconds = (last_sent - started_at).total_seconds()
    rate = stats["counts"]["sent"] / seconds
    return {
        "summary": {
            "customers": CUSTOMERS,
            "sent": stats["counts"]["sent"],
            "gateway latency ms": LATENCY_MS,
            "calls in flight": f"{TOTAL_CONCURRENCY} ({WORKER_PROCESSES} processes x {CONCURRENCY_PER_PROCESS})",
            "mailing start → last sent (s)": round(seconds, 2),
            "platform messages/s": round(rate),
            "bare aiohttp loop messages/s": round(bare_rate),
            "ratio platform / bare loop": f"{rate / bare_rate:.0%}",
            "send tasks (broker messages)": send_tasks,
            "gateway duplicates": gateway_stats["duplicates"],
        },
        "customers_copy_seconds": round(copy_seconds, 2),
        "api_post_to_finished_seconds": round(wall, 2),
        "first_sent_after_start_seconds": round((first_sent - started_at).total_seconds(), 3),
        "settings": {"MAILING_CHUNK_SIZE": CHUNK_SIZE, "MAILING_SENDERS": SENDERS},
    }


if __name__ == "__main__" and sys.argv[1:2] == ["bare"]:
    url, count, concurrency = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(asyncio.run(_bare_loop(url, count, concurrency)))
