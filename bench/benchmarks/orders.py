"""Orders: the order-creation rate, and the availability e-mail's latency from the robot's
POST to the SMTP server's accept (idle worker, a real SMTP server on loopback)."""

import statistics
import threading
import time

import requests
from aiosmtpd.controller import Controller

from tests.stack import free_port, wait_until

LATENCY_SAMPLES = 60
ORDER_REQUESTS = 2000
ORDER_CONCURRENCY = 16


class TimingHandler:
    """Notes when each recipient's e-mail was accepted."""

    def __init__(self):
        self.accepted: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        now = time.perf_counter()
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.accepted.setdefault(recipient, now)
        return "250 OK"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(ctx) -> dict:
    handler = TimingHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        ctx.stack.extra_env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp.port))
        ctx.stack.start_worker()
        ctx.psql("INSERT INTO robots_robotmodel (code, name, created_at) VALUES ('O1', 'Bench', now())")
        ctx.psql(
            "INSERT INTO robots_robotversion (model_id, code, created_at) "
            "SELECT id, v, now() FROM robots_robotmodel, unnest(ARRAY['D1', 'W1']) AS v WHERE code = 'O1'"
        )
        sales = requests.Session()
        sales.headers["Authorization"] = f"Token {ctx.token('sales')}"
        line = requests.Session()
        line.headers["Authorization"] = f"Token {ctx.token('production_line', 'bench-orders-line')}"
        url = ctx.stack.web_url

        latencies = []
        for i in range(LATENCY_SAMPLES):
            address = f"latency-{i}@bench.example"
            sales.post(f"{url}/api/v1/orders/", json={"email": address, "robot_serial": "O1-D1"}, timeout=10)
            started = time.perf_counter()
            response = line.post(
                f"{url}/api/v1/robots/",
                json={"model": "O1", "version": "D1", "created": "2023-10-03 10:00:00"},
                timeout=10,
            )
            assert response.status_code == 201, response.text
            wait_until(
                lambda address=address: address in handler.accepted,
                timeout=30,
                interval=0.001,
                what="the availability e-mail",
            )
            latencies.append((handler.accepted[address] - started) * 1000)

        bodies = [{"email": f"rate-{i}@bench.example", "robot_serial": "O1-W1"} for i in range(ORDER_REQUESTS)]
        auth = {"Authorization": sales.headers["Authorization"]}
        ctx.load(path="/api/v1/orders/", bodies=bodies[:100], concurrency=ORDER_CONCURRENCY, requests=100, headers=auth)
        rate = ctx.load(
            path="/api/v1/orders/", bodies=bodies, concurrency=ORDER_CONCURRENCY, requests=ORDER_REQUESTS, headers=auth
        )
    finally:
        ctx.stack.stop("worker")
        smtp.stop()

    return {
        "notification_latency_ms": latencies,
        "order_creation": rate,
        "summary": {
            "availability e-mail latency, robot POST to SMTP accept: p50 ms": round(statistics.median(latencies), 1),
            "availability e-mail latency: p95 ms": round(percentile(latencies, 0.95), 1),
            "availability e-mail latency: samples": len(latencies),
            "order creation: requests/s": rate["requests_per_second"],
            "order creation: p50/p99 ms": f"{rate['p50_ms']} / {rate['p99_ms']}",
            "order creation: statuses": rate["statuses"],
        },
    }
