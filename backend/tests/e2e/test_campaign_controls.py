"""Campaign controls end to end: pause, resume, the error threshold and resend-failed through
web, the mailing worker and beat started by their own scripts, a Redis server of this module
that is restarted, and our fake gateway on loopback. A paused mailing sends nothing through a
worker SIGKILL and a Redis restart; the fake gateway's own record of every call proves that
no message id was ever accepted twice."""

import shutil
import signal
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from celery import Celery

from tests.stack import BACKEND_DIR, PrivateRedis, deployed_stack, free_port, wait_until

pytestmark = pytest.mark.e2e

TICK = "mailings.tasks.mailings_tick_task"
SENDER = "mailings.tasks.mailing_send_task"


@pytest.fixture(scope="module")
def redis_server():
    work_dir = Path(tempfile.mkdtemp(prefix="r4c-campaign-"))
    server = PrivateRedis(work_dir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def campaign_stack(redis_server):
    gateway_port = free_port()
    extra_env = {
        "PYTHONPATH": str(BACKEND_DIR),
        "CACHE_URL": f"{redis_server.url}/1",
        "GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "GATEWAY_TOKEN": "campaign",
        "GATEWAY_TIMEOUT": "2",
        "GATEWAY_BREAKER_COOLDOWN": "0.5",
        "GATEWAY_BREAKER_MAX_COOLDOWN": "2",
        "MAILING_WORKER_CONCURRENCY": "2",
        "MAILING_CHUNK_SIZE": "10",
        "MAILING_SENDERS": "1",
        "MAILING_STALL_SECONDS": "2",
        "MAILING_RETRY_BASE_SECONDS": "0.1",
        "MAILING_RETRY_MAX_SECONDS": "1",
        "MAILING_ERROR_MIN_ANSWERS": "10",
    }
    with deployed_stack(redis_url=redis_server.url, redis_db=0, extra_env=extra_env) as stack:
        stack.gateway_url = f"http://127.0.0.1:{gateway_port}"
        stack.start(
            "fake-gateway",
            [sys.executable, "-m", "devtools.fake_gateway", "--port", str(gateway_port), "--token", "campaign"],
        )
        wait_until(lambda: requests.get(f"{stack.gateway_url}/health", timeout=1).ok, timeout=20, what="fake gateway")
        stack.start_web()
        stack.start_worker("mailing-worker", "mailing-worker")
        stack.start_beat()
        stack.api = stack.api_session("campaign-marketing", "marketing")
        yield stack


@pytest.fixture
def gateway(campaign_stack):
    """The fake gateway's control API, faults off and records empty."""
    url = campaign_stack.gateway_url
    requests.post(f"{url}/_control/reset", timeout=5).raise_for_status()

    class Control:
        @staticmethod
        def faults(**changes):
            requests.post(f"{url}/_control/faults", json=changes, timeout=5).raise_for_status()

        @staticmethod
        def attempts() -> dict[int, list[dict]]:
            return {int(k): v for k, v in requests.get(f"{url}/_control/attempts", timeout=10).json().items()}

        @staticmethod
        def delivered_phones() -> set[int]:
            return {d["phone"] for d in requests.get(f"{url}/_control/deliveries", timeout=10).json().values()}

        @staticmethod
        def calls() -> int:
            return sum(len(calls) for calls in Control.attempts().values())

    return Control


def _post(stack, path: str, body: dict | None = None, expect: int = 200) -> dict:
    response = stack.api.post(f"{stack.web_url}{path}", json=body or {}, timeout=10)
    assert response.status_code == expect, response.text
    return response.json()


def _customers(stack, n: int, *, prefix: str, tag: str) -> set[int]:
    for i in range(n):
        _post(stack, "/api/v1/customers/", {"phone_number": f"7{prefix}{i:07d}", "tag": tag}, expect=201)
    return {int(f"7{prefix}{i:07d}") for i in range(n)}


def _mailing(stack, **fields) -> dict:
    now = datetime.now(UTC)
    body = {"start_at": now.isoformat(), "end_at": (now + timedelta(minutes=5)).isoformat(), "text": "Robots!"}
    return _post(stack, "/api/v1/mailings/", body | fields, expect=201)


def _stats(stack, mailing_id: int) -> dict:
    response = stack.api.get(f"{stack.web_url}/api/v1/mailings/{mailing_id}/stats/", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _inspect(stack):
    return Celery(broker=stack.broker_url).control.inspect(timeout=2)


def _ticks_taken(stack) -> int:
    stats = _inspect(stack).stats() or {}
    return sum(worker.get("total", {}).get(TICK, 0) for worker in stats.values())


def _senders_idle(stack, mailing_id: int) -> bool:
    """No sender of the mailing runs, waits on its countdown, or is taken up in the mailing worker."""
    inspect = _inspect(stack)
    answers = (inspect.active(), inspect.scheduled(), inspect.reserved())
    tasks = [task.get("request", task) for answer in answers for listed in (answer or {}).values() for task in listed]
    return not any(task.get("name") == SENDER and list(task.get("args") or []) == [mailing_id] for task in tasks)


def _status(stack, mailing_id: int, status: str, timeout: float = 60) -> dict:
    return wait_until(
        lambda: (stats := _stats(stack, mailing_id))["mailing"]["status"] == status and stats,
        timeout=timeout,
        interval=0.3,
        what=f"mailing {mailing_id} to be {status}\n{stack.logs()}",
    )


def _kill_the_worker_and_restart_redis(stack, redis_server) -> None:
    """SIGKILL the mailing worker, restart Redis (its queues are lost: no persistence), start the
    worker again and wait until it takes up beat's ticks."""
    stack.stop("mailing-worker", sig=signal.SIGKILL)
    redis_server.stop()
    redis_server.start()
    stack.start_worker("mailing-worker", "mailing-worker")
    wait_until(lambda: _ticks_taken(stack) >= 2, timeout=60, what=f"the new worker's ticks\n{stack.logs()}")


def _accepted_once(attempts: dict[int, list[dict]]) -> Counter:
    """How many times the gateway accepted each message id."""
    return Counter(
        {message_id: sum(call["answer"] == "ok" for call in calls) for message_id, calls in attempts.items()}
    )


def test_a_paused_mailing_sends_nothing_through_a_worker_kill_and_a_redis_restart_then_resumes(
    campaign_stack, redis_server, gateway
):
    # given a mailing under way to 80 customers through a slow gateway
    phones = _customers(campaign_stack, 80, prefix="931", tag="cc-pause")
    gateway.faults(latency_ms=200)
    mailing = _mailing(campaign_stack, filter_tag="cc-pause")
    wait_until(lambda: gateway.calls() >= 10, timeout=30, what="the first chunk")

    # when it is paused, the worker is SIGKILLed and Redis restarted, and beat's ticks go by
    # (more than MAILING_STALL_SECONDS: a running mailing would have been woken)
    paused = _post(campaign_stack, f"/api/v1/mailings/{mailing['id']}/pause/")
    wait_until(lambda: _senders_idle(campaign_stack, mailing["id"]), timeout=30, what="the chunk in flight to end")
    at_pause = _stats(campaign_stack, mailing["id"])
    calls_at_pause = gateway.calls()
    _kill_the_worker_and_restart_redis(campaign_stack, redis_server)
    seen = _ticks_taken(campaign_stack)
    wait_until(lambda: _ticks_taken(campaign_stack) >= seen + 4, timeout=60, what="four more ticks")
    while_paused = _stats(campaign_stack, mailing["id"])

    # then it stayed paused and the gateway heard nothing more; the chunk in flight was recorded
    assert (paused["status"], paused["paused_reason"]) == ("paused", "Paused on request.")
    assert 0 < at_pause["counts"]["pending"] < 80
    assert at_pause["counts"]["sent"] == calls_at_pause  # every call made was recorded
    assert while_paused["mailing"]["status"] == "paused"
    assert while_paused["counts"] == at_pause["counts"]
    assert gateway.calls() == calls_at_pause

    # and once resumed it sends the rest, each message accepted exactly once
    gateway.faults(latency_ms=0)
    resumed = _post(campaign_stack, f"/api/v1/mailings/{mailing['id']}/resume/")
    stats = _status(campaign_stack, mailing["id"], "finished")
    attempts = gateway.attempts()
    assert resumed["status"] == "running"
    assert stats["counts"]["sent"] == 80
    assert set(_accepted_once(attempts).values()) == {1} and len(attempts) == 80
    assert gateway.delivered_phones() == phones


def test_a_failing_mailing_pauses_itself_and_its_failures_are_resent_once_through_a_worker_kill(
    campaign_stack, redis_server, gateway
):
    # given a gateway refusing every message, and a mailing that pauses at 50% failures
    _customers(campaign_stack, 40, prefix="932", tag="cc-auto")
    gateway.faults(reject_ratio=1.0)
    mailing = _mailing(campaign_stack, filter_tag="cc-auto", error_threshold_percent=50)

    # when its first answers come back
    stats = _status(campaign_stack, mailing["id"], "paused", timeout=30)

    # then it paused itself, saying why, with the rest of its messages still pending
    failed = stats["counts"]["failed"]
    assert stats["mailing"]["paused_reason"].startswith("Paused itself: 10 of the last 10 gateway answers")
    assert failed >= 10 and stats["counts"]["pending"] == 40 - failed

    # when the gateway recovers, the worker is killed and Redis restarted, the failed
    # messages are resent (the mailing stays paused) and it is resumed
    gateway.faults(reject_ratio=0.0)
    _kill_the_worker_and_restart_redis(campaign_stack, redis_server)
    resent = _post(campaign_stack, f"/api/v1/mailings/{mailing['id']}/resend-failed/")
    before_resume = _stats(campaign_stack, mailing["id"])
    resumed = _post(campaign_stack, f"/api/v1/mailings/{mailing['id']}/resume/")
    stats = _status(campaign_stack, mailing["id"], "finished")
    again = campaign_stack.api.post(
        f"{campaign_stack.web_url}/api/v1/mailings/{mailing['id']}/resend-failed/", json={}, timeout=10
    )

    # then every message is sent, the refused ones with their own ids again, each accepted
    # once; afterwards there is nothing left to resend
    assert (resent["resent"], resent["mailing"]["status"]) == (failed, "paused")
    assert (before_resume["counts"]["pending"], before_resume["counts"]["failed"]) == (40, 0)
    assert (resumed["status"], resumed["paused_reason"]) == ("running", "")
    assert stats["counts"]["sent"] == 40
    attempts = gateway.attempts()
    assert len(attempts) == 40
    assert set(_accepted_once(attempts).values()) == {1}
    refused_first = [calls for calls in attempts.values() if calls[0]["answer"] == "rejected"]
    assert len(refused_first) == failed
    assert all([call["answer"] for call in calls] == ["rejected", "ok"] for calls in refused_first)
    assert (again.status_code, again.json()["code"]) == (409, "nothing_to_resend")
