"""Campaign controls end to end: pause, resume, the error threshold and resend-failed through
web, the mailing worker and beat started by their own scripts, a Redis server of this module
that is restarted, and our fake gateway on loopback. A paused mailing sends nothing through a
worker SIGKILL and a Redis restart; the fake gateway's own record of every call proves that
no message id was ever accepted twice."""

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.fake_gateway import FakeGatewayControl
from tests.mailing_workers import mailing_stats, senders_idle, ticks_taken, wait_ticks
from tests.stack import BACKEND_DIR, deployed_stack, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def campaign_stack(redis_server):
    extra_env = {
        "PYTHONPATH": str(BACKEND_DIR),
        "CACHE_URL": f"{redis_server.url}/1",
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
        stack.start_fake_gateway(token="campaign")  # points the processes started after it there
        stack.gateway = FakeGatewayControl(stack.gateway_url)
        stack.start_web()
        stack.start_worker("mailing-worker", "mailing-worker")
        stack.start_beat()
        stack.api = stack.api_session("campaign-marketing", "marketing")
        yield stack


@pytest.fixture
def gateway(campaign_stack) -> FakeGatewayControl:
    """The fake gateway's control API, faults off and records empty."""
    campaign_stack.gateway.reset()
    return campaign_stack.gateway


def _calls(gateway: FakeGatewayControl) -> int:
    """How many calls the gateway has received."""
    return sum(len(calls) for calls in gateway.attempts().values())


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


def _status(stack, mailing_id: int, status: str, timeout: float = 60) -> dict:
    return wait_until(
        lambda: (stats := mailing_stats(stack, mailing_id))["mailing"]["status"] == status and stats,
        timeout=timeout,
        interval=0.3,
        what=f"mailing {mailing_id} to be {status}\n{stack.logs()}",
    )


def _kill_the_worker_and_restart_redis(stack, redis_server) -> None:
    """SIGKILL the mailing worker, restart Redis (its queues are lost: no persistence), start the
    worker again and wait until it takes up beat's ticks.

    Beat is restarted with Redis: under load its connection to a restarted Redis was seen not
    to publish again (the full suite of 2026-11-29; reported, outside this test's subject,
    which is that a mailing's controls live in PostgreSQL)."""
    stack.stop("mailing-worker", sig=signal.SIGKILL)
    stack.stop("beat")
    redis_server.stop()
    redis_server.start()
    stack.start_worker("mailing-worker", "mailing-worker")
    stack.start_beat()
    try:
        wait_until(lambda: ticks_taken(stack) >= 2, timeout=90, what="the new worker's ticks")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}\n{stack.logs()}") from exc


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
    wait_until(lambda: _calls(gateway) >= 10, timeout=30, what="the first chunk")

    # when it is paused, the worker is SIGKILLed and Redis restarted, and beat's ticks go by
    # (more than MAILING_STALL_SECONDS: a running mailing would have been woken)
    paused = _post(campaign_stack, f"/api/v1/mailings/{mailing['id']}/pause/")
    wait_until(lambda: senders_idle(campaign_stack, mailing["id"]), timeout=30, what="the chunk in flight to end")
    at_pause = mailing_stats(campaign_stack, mailing["id"])
    calls_at_pause = _calls(gateway)
    _kill_the_worker_and_restart_redis(campaign_stack, redis_server)
    wait_ticks(campaign_stack, 4, timeout=90)
    while_paused = mailing_stats(campaign_stack, mailing["id"])

    # then it stayed paused and the gateway heard nothing more; the chunk in flight was recorded
    assert (paused["status"], paused["paused_reason"]) == ("paused", "Paused on request.")
    assert 0 < at_pause["counts"]["pending"] < 80
    assert at_pause["counts"]["sent"] == calls_at_pause  # every call made was recorded
    assert while_paused["mailing"]["status"] == "paused"
    assert while_paused["counts"] == at_pause["counts"]
    assert _calls(gateway) == calls_at_pause

    # and once resumed it sends the rest, each message accepted exactly once
    gateway.faults(latency_ms=0)
    resumed = _post(campaign_stack, f"/api/v1/mailings/{mailing['id']}/resume/")
    stats = _status(campaign_stack, mailing["id"], "finished")
    attempts = gateway.attempts()
    assert resumed["status"] == "running"
    assert stats["counts"]["sent"] == 80
    assert set(_accepted_once(attempts).values()) == {1} and len(attempts) == 80
    assert {d["phone"] for d in gateway.deliveries().values()} == phones


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
    before_resume = mailing_stats(campaign_stack, mailing["id"])
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
