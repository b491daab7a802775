"""Faults under steady load, through the running processes, on servers of this test only.

A production line and the shop keep working (robots and orders, each with its own
Idempotency-Key, retried with the same key until accepted) while, one after another,
PostgreSQL restarts, Redis restarts, a worker is killed, the SMTP server is away and the
SMS gateway is down in the middle of a mailing; a report is asked for meanwhile.
Afterwards nothing is lost or duplicated (but for the one duplicate the outbox's design
allows: an e-mail the SMTP server accepted just as PostgreSQL or the worker went down is
sent again), and every error a client saw was a 503 with Retry-After. The load and every
wait are bounded in count and time; loopback only.
"""

import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests

from devtools.smtp_sink import MemorySink
from tests.stack import BACKEND_DIR, PrivatePostgres, PrivateRedis, deployed_stack, free_port, wait_until

pytestmark = pytest.mark.e2e
SERIALS = ["F1-A1", "F1-B2"]
MAX_LOAD_OPERATIONS = 2000  # the load stops by itself even if the test does not stop it


@pytest.fixture(scope="module")
def servers():
    work_dir = Path(tempfile.mkdtemp(prefix="r4c-faults-"))
    postgres, redis_server, smtp = PrivatePostgres(work_dir), PrivateRedis(work_dir), MemorySink()
    postgres.init()
    postgres.pg_ctl("start")
    redis_server.start()
    smtp.start()
    try:
        yield {"postgres": postgres, "redis": redis_server, "smtp": smtp}
    finally:
        smtp.stop()
        redis_server.stop()
        postgres.pg_ctl("stop")
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(servers):
    gateway_port = free_port()
    extra_env = {
        "CACHE_URL": f"{servers['redis'].url}/1",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(servers["smtp"].port),
        "EMAIL_TIMEOUT": "3",
        "EMAIL_RETRY_BASE": "1",
        "EMAIL_RETRY_MAX_DELAY": "2",
        "EMAIL_SWEEP_GRACE": "2",
        "REPORTS_SWEEP_GRACE": "2",
        "PYTHONPATH": str(BACKEND_DIR),
        "GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "GATEWAY_TOKEN": "faults",
        "GATEWAY_TIMEOUT": "2",
        "GATEWAY_BREAKER_COOLDOWN": "0.5",
        "GATEWAY_BREAKER_MAX_COOLDOWN": "2",
        "MAILING_CHUNK_SIZE": "20",
        "MAILING_STALL_SECONDS": "3",
        "MAILING_RETRY_BASE_SECONDS": "0.2",
        "MAILING_RETRY_MAX_SECONDS": "1",
        "DATABASE_CONNECT_TIMEOUT": "2",
        "THROTTLE_AUTH_RATE": "100000/min",
    }
    with deployed_stack(
        base_database_url=servers["postgres"].url, redis_url=servers["redis"].url, redis_db=0, extra_env=extra_env
    ) as stack:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            # An admin makes the sweepers run every 2 seconds instead of every minute.
            conn.execute(
                """UPDATE django_celery_beat_intervalschedule SET every = 2 WHERE id IN (
                       SELECT interval_id FROM django_celery_beat_periodictask
                       WHERE name IN ('notifications: sweep overdue e-mails', 'reports: sweep pending reports'))"""
            )
            conn.execute("INSERT INTO robots_robotmodel (code, name, created_at) VALUES ('F1', '', now())")
            conn.execute(
                """INSERT INTO robots_robotversion (model_id, code, created_at)
                   SELECT id, v, now() FROM robots_robotmodel, unnest(ARRAY['A1', 'B2']) AS v"""
            )
        stack.gateway_url = f"http://127.0.0.1:{gateway_port}"
        stack.start(
            "fake-gateway",
            [sys.executable, "-m", "devtools.fake_gateway", "--port", str(gateway_port), "--token", "faults"],
        )
        wait_until(lambda: requests.get(f"{stack.gateway_url}/health", timeout=1).ok, timeout=20, what="gateway")
        stack.start_web()
        stack.start_worker()
        stack.start_worker("mailing-worker", "mailing-worker")
        stack.start_beat()
        yield stack


class SteadyLoad(threading.Thread):
    """Orders then robots of alternating serials, each request retried with its own key
    until it is accepted; notes every answer that was not a success."""

    def __init__(self, stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.shop = stack.api_session("faults-shop", "sales")
        self.line = stack.api_session("faults-line", "production_line")
        self.stop_event = threading.Event()
        self.completed = 0
        self.phase = "steady"
        self.completed_by_phase = Counter()  # phase -> order+robot pairs accepted
        self.accepted = Counter()  # kind -> accepted requests
        self.errors = Counter()  # (phase, status) -> count
        self.errors_without_retry_after = []
        self.orders_by_email = {}

    def call(self, session, path: str, body: dict, key: str) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                response = session.post(
                    f"{self.stack.web_url}{path}", json=body, headers={"Idempotency-Key": key}, timeout=15
                )
            except requests.RequestException as exc:
                self.errors[(self.phase, type(exc).__name__)] += 1
                time.sleep(0.2)
                continue
            if response.status_code == 201:
                return response.json()
            self.errors[(self.phase, response.status_code)] += 1
            if "Retry-After" not in response.headers:
                self.errors_without_retry_after.append((path, response.status_code, response.text[:200]))
            time.sleep(0.2)
        raise TimeoutError(f"{path} {key} not accepted within 120 s")

    def run(self) -> None:
        for i in range(MAX_LOAD_OPERATIONS):
            if self.stop_event.is_set():
                return
            serial = SERIALS[i % 2]
            email = f"customer-{i}@faults.example"
            order = self.call(self.shop, "/api/v1/orders/", {"email": email, "robot_serial": serial}, f"order-{i}")
            self.orders_by_email[email] = order["id"]
            self.accepted["orders"] += 1
            model, version = serial.split("-")
            robot = {"model": model, "version": version, "created": "2023-10-03 12:00:00"}
            self.call(self.line, "/api/v1/robots/", robot, f"robot-{i}")
            self.accepted["robots"] += 1
            self.completed += 1
            self.completed_by_phase[self.phase] += 1
            time.sleep(0.05)

    def wait_for_progress(self, operations: int = 3, timeout: float = 60) -> None:
        target = self.completed + operations
        wait_until(lambda: self.completed >= target, timeout=timeout, what=f"{operations} more operations")


def test_faults_lose_and_duplicate_nothing_and_clients_only_see_503s(stack, servers):
    load = SteadyLoad(stack)
    marketing = stack.api_session("faults-marketing", "marketing")
    manager = stack.api_session("faults-manager", "manager")
    load.start()
    try:
        load.wait_for_progress()

        load.phase = "postgres restart"
        # When the outbox may lose its record of a sent e-mail, and so send it again.
        commit_lost_windows = [(time.monotonic(), None)]
        servers["postgres"].pg_ctl("restart")
        commit_lost_windows[-1] = (commit_lost_windows[-1][0], time.monotonic())
        load.wait_for_progress()

        load.phase = "redis down"
        servers["redis"].stop()
        report = manager.post(f"{stack.web_url}/api/v1/reports/", json={}, timeout=30)
        load.wait_for_progress(2)
        servers["redis"].start()
        load.wait_for_progress()

        load.phase = "worker killed"
        killed_at = time.monotonic()
        stack.stop("worker", sig=signal.SIGKILL)
        commit_lost_windows.append((killed_at, time.monotonic()))
        load.wait_for_progress(2)
        stack.start_worker()
        load.wait_for_progress()

        load.phase = "smtp down"
        servers["smtp"].stop()
        load.wait_for_progress(3)
        servers["smtp"].start()
        load.wait_for_progress()

        # The gateway goes down in the middle of a mailing, and comes back before its end.
        load.phase = "gateway down"
        for i in range(40):
            response = marketing.post(
                f"{stack.web_url}/api/v1/customers/",
                json={"phone_number": f"7900{i:07d}", "tag": "faults"},
                timeout=10,
            )
            assert response.status_code == 201, response.text
        requests.post(f"{stack.gateway_url}/_control/faults", json={"down": True}, timeout=5)
        now = datetime.now(UTC)
        mailing = marketing.post(
            f"{stack.web_url}/api/v1/mailings/",
            json={
                "start_at": now.isoformat(),
                "end_at": (now + timedelta(minutes=5)).isoformat(),
                "text": "Robots!",
                "filter_tag": "faults",
            },
            timeout=10,
        ).json()
        load.wait_for_progress(3)
        requests.post(f"{stack.gateway_url}/_control/faults", json={"down": False}, timeout=5)
        load.wait_for_progress()
        load.phase = "after"
    finally:
        load.stop_event.set()
        load.join(timeout=150)

    assert not load.is_alive()
    # Clients saw nothing but 503s with Retry-After (and the report was accepted as asked).
    assert {status for _, status in load.errors} <= {503}, load.errors
    assert load.errors_without_retry_after == []
    assert report.status_code == 202, report.text

    with psycopg.connect(stack.database_url, autocommit=True) as conn:

        def one(sql: str, *params):
            return conn.execute(sql, params).fetchone()[0]

        # Nothing lost or duplicated: one row per accepted request.
        assert one("SELECT count(*) FROM robots_robot") == load.accepted["robots"]
        assert one("SELECT count(*) FROM orders_order") == load.accepted["orders"]
        # Every order got its robot (a robot followed each order of the same serial).
        assert one("SELECT count(*) FROM orders_order WHERE status = 'notified'") == load.accepted["orders"]
        # Each notified order's e-mail arrives exactly once.
        wait_until(
            lambda: one("SELECT count(*) FROM notifications_email WHERE status = 'sent'") == load.accepted["orders"],
            timeout=120,
            what="every availability e-mail to be sent",
        )
        report_status = wait_until(
            lambda: one("SELECT status FROM reports_report WHERE id = %s", report.json()["id"]) == "ready",
            timeout=90,
            what="the report asked for during the Redis outage",
        )
        assert report_status
        mailing_id = mailing["id"]
        wait_until(
            lambda: (
                one("SELECT count(*) FROM mailings_message WHERE mailing_id = %s AND status = 'sent'", mailing_id) == 40
            ),
            timeout=120,
            what="every message of the mailing to be sent",
        )

    arrivals = servers["smtp"].arrivals
    received = Counter(message["To"] for _, message in arrivals)
    assert set(received) == set(load.orders_by_email)
    # The one duplicate the design allows: the SMTP server accepted an e-mail just as
    # PostgreSQL or the worker went down, so the row recording it as sent never committed
    # and the outbox sent it again. Any other second copy is a bug.
    for address, count in received.items():
        if count == 1:
            continue
        copies = sorted((at, message["X-R4C-Email-Id"]) for at, message in arrivals if message["To"] == address)
        assert count == 2 and copies[0][1] == copies[1][1], (address, copies)
        first = copies[0][0]
        assert any(began - 2 <= first <= ended + 2 for began, ended in commit_lost_windows), (
            f"{address} got a second copy of an e-mail first accepted outside every fault that can lose the "
            f"commit: at {first:.1f}, windows {commit_lost_windows}"
        )
    gateway = requests.get(f"{stack.gateway_url}/_control/stats", timeout=5).json()
    assert gateway["delivered"] == 40
    print(
        f"\nfault suite: order+robot pairs accepted by phase {dict(load.completed_by_phase)}; "
        f"client errors by (phase, status) {dict(load.errors)}; robots {load.accepted['robots']}, "
        f"orders {load.accepted['orders']}, e-mails received {sum(received.values())} "
        f"({sum(received.values()) - len(received)} resent after a lost commit); "
        f"gateway {gateway['outcomes']}, delivered {gateway['delivered']}, duplicates {gateway['duplicates']}"
    )
