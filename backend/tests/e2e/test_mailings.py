"""Mailings end to end: web, the mailing worker and beat started by their own scripts, and
our fake gateway on loopback, faults switched at runtime."""

import json
import signal
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.mailing_workers import mailing_stats as _stats
from tests.mailing_workers import senders_idle as _senders_idle
from tests.mailing_workers import wait_ticks as _wait_ticks
from tests.stack import BACKEND_DIR, deployed_stack, free_port, wait_until

pytestmark = pytest.mark.e2e

CHUNK = 20


@pytest.fixture(scope="module")
def mailing_stack():
    gateway_port = free_port()
    extra_env = {
        "PYTHONPATH": str(BACKEND_DIR),
        "GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "GATEWAY_TOKEN": "e2e-token",
        "GATEWAY_TIMEOUT": "2",
        "GATEWAY_BREAKER_COOLDOWN": "0.5",
        "GATEWAY_BREAKER_MAX_COOLDOWN": "2",
        "MAILING_WORKER_CONCURRENCY": "2",
        "MAILING_CHUNK_SIZE": str(CHUNK),
        "MAILING_SENDERS": "2",
        "MAILING_STALL_SECONDS": "3",
        "MAILING_RETRY_BASE_SECONDS": "0.1",
        "MAILING_RETRY_MAX_SECONDS": "1",
    }
    with deployed_stack(extra_env=extra_env) as stack:
        stack.gateway_url = f"http://127.0.0.1:{gateway_port}"
        stack.start(
            "fake-gateway",
            [sys.executable, "-m", "devtools.fake_gateway", "--port", str(gateway_port), "--token", "e2e-token"],
        )
        wait_until(lambda: requests.get(f"{stack.gateway_url}/health", timeout=1).ok, timeout=20, what="fake gateway")
        stack.start_web()
        stack.start_worker("mailing-worker", "mailing-worker")
        stack.start_beat()
        stack.api = stack.api_session("e2e-marketing", "marketing")
        yield stack


@pytest.fixture
def gateway(mailing_stack):
    """The fake gateway's control API, faults off and records empty."""
    url = mailing_stack.gateway_url
    requests.post(f"{url}/_control/reset", timeout=5).raise_for_status()

    class Control:
        @staticmethod
        def faults(**changes):
            requests.post(f"{url}/_control/faults", json=changes, timeout=5).raise_for_status()

        @staticmethod
        def deliveries() -> dict[int, dict]:
            return {int(k): v for k, v in requests.get(f"{url}/_control/deliveries", timeout=10).json().items()}

        @staticmethod
        def stats() -> dict:
            return requests.get(f"{url}/_control/stats", timeout=5).json()

    return Control


def _customers(stack, n: int, *, prefix: str, tag: str, timezone: str = "Europe/Moscow") -> list[dict]:
    created = []
    for i in range(n):
        response = stack.api.post(
            f"{stack.web_url}/api/v1/customers/",
            json={"phone_number": f"7{prefix}{i:07d}", "tag": tag, "timezone": timezone},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


def _mailing(stack, *, start_in: float = 0, lasts: float = 120, **fields) -> dict:
    now = datetime.now(UTC)
    body = {
        "start_at": (now + timedelta(seconds=start_in)).isoformat(),
        "end_at": (now + timedelta(seconds=start_in + lasts)).isoformat(),
        "text": "Robots on sale!",
        **fields,
    }
    response = stack.api.post(f"{stack.web_url}/api/v1/mailings/", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def _wait_finished(stack, mailing_id: int, timeout: float = 60) -> dict:
    return wait_until(
        lambda: (stats := _stats(stack, mailing_id))["mailing"]["status"] == "finished" and stats,
        timeout=timeout,
        interval=0.3,
        what=f"mailing {mailing_id} to finish\n{stack.logs()}",
    )


def test_only_the_filtered_customers_receive_the_message(mailing_stack, gateway):
    wanted = _customers(mailing_stack, 5, prefix="912", tag="e2e-filter")
    _customers(mailing_stack, 3, prefix="926", tag="e2e-filter")  # another operator
    _customers(mailing_stack, 3, prefix="913", tag="e2e-other")  # another tag

    mailing = _mailing(mailing_stack, filter_tag="e2e-filter", filter_operator_code="912")
    stats = _wait_finished(mailing_stack, mailing["id"])

    deliveries = gateway.deliveries()
    assert {d["phone"] for d in deliveries.values()} == {int(c["phone_number"]) for c in wanted}
    assert {d["text"] for d in deliveries.values()} == {"Robots on sale!"}
    assert stats["counts"] == {"pending": 0, "sent": 5, "failed": 0, "expired": 0, "cancelled": 0, "total": 5}


def test_a_future_mailing_starts_by_itself_and_not_before(mailing_stack, gateway):
    _customers(mailing_stack, 3, prefix="914", tag="e2e-future")
    mailing = _mailing(mailing_stack, start_in=5, filter_tag="e2e-future")
    start_at = datetime.fromisoformat(mailing["start_at"])
    before = _stats(mailing_stack, mailing["id"])

    stats = _wait_finished(mailing_stack, mailing["id"], timeout=30)

    # before its start it was scheduled with no messages; it started at its start (the mailing
    # says when), and the gateway heard of it no earlier
    assert (before["mailing"]["status"], before["counts"]["total"]) == ("scheduled", 0)
    assert datetime.fromisoformat(stats["mailing"]["started_at"]) >= start_at
    assert stats["counts"]["sent"] == 3
    assert min(d["at"] for d in gateway.deliveries().values()) >= start_at.timestamp()


def test_a_flaky_gateway_still_delivers_everything(mailing_stack, gateway):
    customers = _customers(mailing_stack, 30, prefix="915", tag="e2e-flaky")
    gateway.faults(error_ratio=0.5, latency_ms=5)

    mailing = _mailing(mailing_stack, filter_tag="e2e-flaky")
    stats = _wait_finished(mailing_stack, mailing["id"], timeout=90)

    assert stats["counts"]["sent"] == 30
    assert {d["phone"] for d in gateway.deliveries().values()} == {int(c["phone_number"]) for c in customers}
    assert gateway.stats()["outcomes"]["error"] > 0
    messages = mailing_stack.api.get(
        f"{mailing_stack.web_url}/api/v1/messages/", params={"mailing": mailing["id"], "page_size": 100}, timeout=10
    ).json()["results"]
    assert max(m["attempts"] for m in messages) > 1


def test_a_gateway_down_until_the_end_sends_nothing_after_it_and_everything_expires(mailing_stack, gateway):
    _customers(mailing_stack, 10, prefix="916", tag="e2e-down")
    gateway.faults(down=True)

    mailing = _mailing(mailing_stack, lasts=4, filter_tag="e2e-down")
    end_at = datetime.fromisoformat(mailing["end_at"]).timestamp()
    stats = _wait_finished(mailing_stack, mailing["id"], timeout=30)
    # every sender of the mailing has run its course (none runs or waits on its countdown), and
    # two more ticks were taken up after it: a sender that would call after the end has called
    wait_until(lambda: _senders_idle(mailing_stack, mailing["id"]), timeout=30, what="the senders to stop")
    _wait_ticks(mailing_stack, 2)

    assert stats["counts"] == {"pending": 0, "sent": 0, "failed": 0, "expired": 10, "cancelled": 0, "total": 10}
    calls = gateway.stats()
    assert gateway.deliveries() == {}
    assert calls["outcomes"]["down"] <= 40  # the breakers probed (one per process), they did not hammer
    assert calls["last_call_at"] <= end_at + 0.2


def test_the_local_time_window_holds_back_customers_outside_it(mailing_stack, gateway):
    now = datetime.now(UTC)
    inside = _customers(mailing_stack, 3, prefix="917", tag="e2e-window", timezone="UTC")
    outside = _customers(mailing_stack, 3, prefix="918", tag="e2e-window", timezone="GMT+12")
    window = {
        "send_window_start": (now - timedelta(hours=2)).strftime("%H:%M"),
        "send_window_end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }

    mailing = _mailing(mailing_stack, filter_tag="e2e-window", **window)
    wait_until(
        lambda: _stats(mailing_stack, mailing["id"])["counts"]["sent"] == 3, timeout=30, what="the in-window sends"
    )
    # ticks pass, beyond MAILING_STALL_SECONDS (when an idle running mailing is looked at
    # again): those outside their window must still wait
    _wait_ticks(mailing_stack, 4)
    stats = _stats(mailing_stack, mailing["id"])

    phones = {d["phone"] for d in gateway.deliveries().values()}
    assert phones == {int(c["phone_number"]) for c in inside}
    assert not phones & {int(c["phone_number"]) for c in outside}
    assert stats["counts"]["pending"] == 3
    assert stats["mailing"]["status"] == "running"
    mailing_stack.api.post(f"{mailing_stack.web_url}/api/v1/mailings/{mailing['id']}/cancel/", timeout=10)


def test_a_worker_killed_mid_mailing_loses_nothing_and_finishes_after_restart(mailing_stack, gateway):
    customers = _customers(mailing_stack, 120, prefix="919", tag="e2e-kill")
    gateway.faults(latency_ms=150)
    mailing = _mailing(mailing_stack, filter_tag="e2e-kill")

    wait_until(lambda: len(gateway.deliveries()) >= CHUNK, timeout=30, what="the first chunks")
    mailing_stack.stop("mailing-worker", sig=signal.SIGKILL)
    killed_at = _stats(mailing_stack, mailing["id"])["counts"]
    assert killed_at["pending"] > 0  # killed in the middle
    mailing_stack.start_worker("mailing-worker", "mailing-worker")
    stats = _wait_finished(mailing_stack, mailing["id"], timeout=90)

    assert stats["counts"]["sent"] == 120
    assert {d["phone"] for d in gateway.deliveries().values()} == {int(c["phone_number"]) for c in customers}


def test_metrics_show_messages_by_status_and_gateway_latency(mailing_stack, gateway):
    text = requests.get(f"{mailing_stack.web_url}/metrics", timeout=10).text

    assert 'r4c_mailing_messages{status="sent"}' in text
    assert "r4c_gateway_request_duration_seconds_bucket" in text
    count = [line for line in text.splitlines() if line.startswith("r4c_gateway_request_duration_seconds_count")]
    assert float(count[0].split()[-1]) > 0


def test_log_lines_about_a_mailing_carry_its_id(mailing_stack):
    log = mailing_stack.processes["mailing-worker"].log_path.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"mailing_id"' in line]

    assert lines
    assert all(str(line["mailing_id"]) in line["message"] for line in lines)
