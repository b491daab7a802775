"""The gateway contract, through a real mailing worker: the fake gateway answers oddly (every
odd answer of devtools/fake_gateway.py), and no message is recorded `sent` unless the gateway
accepted its text by the contract (HTTP 200, a JSON object, `code` the integer 0).

Each odd answer has its customers (by phone prefix), so one mailing meets them all at once;
the mailing worker, beat and the web process are started by their own scripts."""

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.fake_gateway import FakeGatewayControl
from tests.stack import BACKEND_DIR, deployed_stack, free_port, wait_until

pytestmark = pytest.mark.e2e

RATE_LIMIT = 20  # calls a second, over the mailing worker's processes
# odd answer -> (the metric label, what the message's last_error says)
ODD = {
    "redirect": ("redirect", "HTTP 301 redirect to /v1/moved/{id}, not followed"),
    "code_false": ("bad_code", "`code` is a boolean false, not the integer 0"),
    "code_string": ("bad_code", '`code` is a string "0", not the integer 0'),
    "code_float": ("bad_code", "`code` is a number 0.0, not the integer 0"),
    "code_missing": ("bad_code", "`code` is missing"),
    "code_null": ("bad_code", "`code` is null"),
    "not_object": ("not_object", "the JSON is an array, not an object"),
    "not_json": ("not_json", "HTTP 200 but not JSON"),
    "status_202": ("unexpected_status", "HTTP 202, not the contract's 200"),
    "huge": ("too_large", "over the 65536-byte cap"),
    "huge_declared": ("too_large", "the answer is 67108864 bytes, over the 65536-byte cap"),
    "slow": ("slow_answer", "HTTP 200 began but its body did not end"),
}
# 7960..., 7961..., ...: valid numbers (core.phones refuses invalid ones, as most of 7930... are)
PREFIX = {answer: f"79{60 + index:02d}" for index, answer in enumerate(ODD)}
CONTROL_PREFIX = "7999"  # answered by the contract


@pytest.fixture(scope="module")
def stack():
    gateway_port = free_port()
    extra_env = {
        "PYTHONPATH": str(BACKEND_DIR),
        "GATEWAY_URL": f"http://127.0.0.1:{gateway_port}",
        "GATEWAY_TOKEN": "contract",
        "GATEWAY_TIMEOUT": "1",
        "GATEWAY_RATE_LIMIT": str(RATE_LIMIT),
        "GATEWAY_RETRY_AFTER_MAX": "10",
        # The breaker is not what is tested here: it would keep some messages from any call.
        "GATEWAY_BREAKER_MIN_CALLS": "1000",
        "GATEWAY_BREAKER_FAILURE_RATIO": "1",
        "MAILING_WORKER_CONCURRENCY": "2",
        "MAILING_CHUNK_SIZE": "50",
        "MAILING_SENDERS": "2",
        "MAILING_STALL_SECONDS": "2",
        "MAILING_RETRY_BASE_SECONDS": "0.2",
        "MAILING_RETRY_MAX_SECONDS": "0.5",
    }
    with deployed_stack(extra_env=extra_env) as stack:
        stack.start(
            "fake-gateway",
            [sys.executable, "-m", "devtools.fake_gateway", "--port", str(gateway_port), "--token", "contract"],
        )
        stack.gateway = FakeGatewayControl(f"http://127.0.0.1:{gateway_port}")
        stack.gateway.wait_ready()
        stack.start_web()
        stack.start_worker("mailing-worker", "mailing-worker")
        stack.start_beat()
        stack.api = stack.api_session("contract-marketing", "marketing")
        yield stack


@pytest.fixture
def gateway(stack) -> FakeGatewayControl:
    stack.gateway.reset()
    return stack.gateway


def _customers(stack, prefix: str, n: int, *, tag: str) -> None:
    for i in range(n):
        response = stack.api.post(
            f"{stack.web_url}/api/v1/customers/",
            json={"phone_number": f"{prefix}{i:07d}", "tag": tag, "timezone": "Europe/Moscow"},
            timeout=10,
        )
        assert response.status_code == 201, response.text


def _mailing(stack, *, tag: str, lasts: float) -> dict:
    now = datetime.now(UTC)
    body = {
        "start_at": now.isoformat(),
        "end_at": (now + timedelta(seconds=lasts)).isoformat(),
        "text": "Robots on sale!",
        "filter_tag": tag,
    }
    response = stack.api.post(f"{stack.web_url}/api/v1/mailings/", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def _finished(stack, mailing_id: int, timeout: float) -> list[dict]:
    """The mailing's messages, once it has finished."""
    wait_until(
        lambda: (
            stack.api.get(f"{stack.web_url}/api/v1/mailings/{mailing_id}/", timeout=10).json()["status"] == "finished"
        ),
        timeout=timeout,
        interval=0.3,
        what=f"mailing {mailing_id} to finish\n{stack.logs()}",
    )
    answer = stack.api.get(
        f"{stack.web_url}/api/v1/messages/", params={"mailing": mailing_id, "page_size": 500}, timeout=10
    ).json()
    assert answer["next"] is None
    return answer["results"]


def _peak_memory_mib(stack, name: str) -> float:
    """The largest peak resident size (VmHWM) among the processes of `name` (the Celery
    parent and its pool children share its process group)."""
    group = stack.processes[name].popen.pid
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if os.getpgid(int(status.parent.name)) != group:
                continue
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except (OSError, ValueError):
            continue
        peaks.append(int(fields["VmHWM"].split()[0]) / 1024)
    assert peaks, f"no process of {name}"
    return max(peaks)


def _metric(stack, outcome: str) -> float:
    text = requests.get(f"{stack.web_url}/metrics", timeout=10).text
    prefix = f'r4c_gateway_requests_total{{outcome="{outcome}"}}'
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix)]
    return values[0] if values else 0.0


def _assert_sent_only_when_accepted(messages: list[dict], gateway: FakeGatewayControl) -> None:
    deliveries = gateway.deliveries()
    for message in messages:
        if message["status"] == "sent":
            assert message["id"] in deliveries, f"message {message['id']} recorded sent, never accepted"
            accepted_at = datetime.fromtimestamp(deliveries[message["id"]]["at"], UTC)
            assert datetime.fromisoformat(message["sent_at"]) >= accepted_at - timedelta(seconds=0.5)


def test_no_odd_answer_is_ever_recorded_as_sent(stack, gateway):
    # given a warm worker (a mailing answered by the contract), and a gateway that answers
    # each group of customers with one odd answer, on every attempt
    _customers(stack, "7998", 2, tag="contract-warm")
    _finished(stack, _mailing(stack, tag="contract-warm", lasts=30)["id"], timeout=30)
    memory_before = _peak_memory_mib(stack, "mailing-worker")
    gateway.reset()
    for answer, prefix in PREFIX.items():
        _customers(stack, prefix, 2, tag="contract-odd")
    _customers(stack, CONTROL_PREFIX, 2, tag="contract-odd")
    gateway.faults(
        answer_by_phone={prefix: answer for answer, prefix in PREFIX.items()}, slow_ms=3000, huge_bytes=64 * 1024 * 1024
    )

    # when a mailing runs until its end
    messages = _finished(stack, _mailing(stack, tag="contract-odd", lasts=8)["id"], timeout=60)

    # then only the customers answered by the contract got `sent`; every other message was
    # tried, answered oddly each time, and expired with a last_error saying what came back
    _assert_sent_only_when_accepted(messages, gateway)
    attempts = gateway.attempts()
    by_prefix = {}
    for message in messages:
        by_prefix.setdefault(message["phone_number"][:4], []).append(message)
    assert {m["status"] for m in by_prefix[CONTROL_PREFIX]} == {"sent"}
    for answer, (kind, error) in ODD.items():
        group = by_prefix[PREFIX[answer]]
        assert len(group) == 2
        for message in group:
            assert message["status"] == "expired", (answer, message)
            assert message["attempts"] >= 1
            assert error.format(id=message["id"]) in message["last_error"], (answer, message["last_error"])
            assert {call["answer"] for call in attempts[message["id"]]} == {answer}
            assert len(attempts[message["id"]]) == message["attempts"]
        assert _metric(stack, kind) >= 2, kind
    # The huge answers were cut short: the worker's memory stayed flat, the gateway could not
    # hand over more than a fraction of what it had to send.
    huge_calls = sum(len(attempts[m["id"]]) for m in by_prefix[PREFIX["huge"]] + by_prefix[PREFIX["huge_declared"]])
    assert _peak_memory_mib(stack, "mailing-worker") < memory_before + 32
    assert gateway.stats()["huge_bytes_sent"] < huge_calls * 64 * 1024 * 1024 / 4


@pytest.mark.parametrize(
    ("answer", "form", "prefixes"),
    [("rate_limited", "seconds", ("7940", "7941")), ("unavailable", "date", ("7950", "7951"))],
)
def test_retry_after_is_respected_for_the_message_and_the_whole_mailing(stack, gateway, answer, form, prefixes):
    # given 40 customers, two of whom the gateway answers first with a Retry-After of 3 s,
    # and every later call by the contract
    tag = f"contract-{answer}"
    held_prefix, other_prefix = prefixes
    _customers(stack, held_prefix, 2, tag=tag)
    _customers(stack, other_prefix, 38, tag=tag)
    gateway.faults(answer_by_phone={held_prefix: answer}, answer_attempts=1, retry_after=3, retry_after_format=form)

    # when the mailing runs (at RATE_LIMIT calls a second, so it lasts a few seconds)
    messages = _finished(stack, _mailing(stack, tag=tag, lasts=60)["id"], timeout=60)

    # then everyone got the message, and the gateway saw no call before the moment it named:
    # not from the messages it answered, nor (after the half second other processes take to
    # learn of it) from any other message of the mailing
    assert {m["status"] for m in messages} == {"sent"}
    _assert_sent_only_when_accepted(messages, gateway)
    attempts = gateway.attempts()
    held = [calls for calls in attempts.values() if calls[0]["answer"] == answer]
    assert len(held) == 2
    for first, *later in held:
        assert later, "the message was not tried again"
        assert later[0]["at"] >= first["not_before"]
    first_hold = min(held, key=lambda calls: calls[0]["at"])[0]
    calls = sorted(call["at"] for message_calls in attempts.values() for call in message_calls)
    assert not [at for at in calls if first_hold["at"] + 0.5 < at < first_hold["not_before"]]
    assert _metric(stack, answer) >= 2
