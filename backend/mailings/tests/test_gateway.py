"""The gateway client against the fake gateway: the contract read strictly, Retry-After,
the answer's size cap, timeouts, the shared rate limit, the breaker."""

import multiprocessing
import socket
import time
import tracemalloc
from email.utils import formatdate

import pytest
import redis

from mailings import gateway as gateway_client
from mailings.gateway import (
    DEFERRED,
    FAILED,
    RETRY,
    SENT,
    CircuitBreaker,
    OutgoingMessage,
    gateway,
    retry_after_seconds,
)


def _messages(n: int, start: int = 1) -> list[OutgoingMessage]:
    return [OutgoingMessage(id=i, phone_number=f"7912{i:07d}", text="hi") for i in range(start, start + n)]


def _send(n: int = 1, start: int = 1) -> list[gateway_client.Outcome]:
    return gateway().send_many(_messages(n, start), deadline=time.time() + 60)


def test_the_contracts_answer_is_sent(fake_gateway):
    [outcome] = _send()

    assert (outcome.result, outcome.kind, outcome.error) == (SENT, "sent", "")
    assert fake_gateway.deliveries()[1]["text"] == "hi"


@pytest.mark.parametrize(
    ("answer", "kind", "error"),
    [
        # aiohttp would follow it, turning the POST into a GET that answers {"code": 0}.
        ("redirect", "redirect", "HTTP 301 redirect to /v1/moved/1, not followed"),
        ("code_false", "bad_code", "`code` is a boolean false, not the integer 0"),
        ("code_string", "bad_code", '`code` is a string "0", not the integer 0'),
        ("code_float", "bad_code", "`code` is a number 0.0, not the integer 0"),
        ("code_missing", "bad_code", "`code` is missing"),
        ("code_null", "bad_code", "`code` is null"),
        ("not_object", "not_object", "the JSON is an array, not an object"),
        ("not_json", "not_json", "HTTP 200 but not JSON: <html>"),
        ("status_202", "unexpected_status", "HTTP 202, not the contract's 200"),
        ("huge", "too_large", "the answer is more, over the 65536-byte cap"),
        ("huge_declared", "too_large", "the answer is 67108864 bytes, over the 65536-byte cap"),
    ],
)
def test_an_odd_answer_is_a_retryable_failure_that_says_what_came_back(fake_gateway, answer, kind, error):
    fake_gateway.faults(answer=answer)

    [outcome] = _send()

    assert (outcome.result, outcome.kind) == (RETRY, kind)
    assert error in outcome.error
    assert fake_gateway.deliveries() == {}
    assert fake_gateway.stats()["outcomes"] == {answer: 1}  # one call: a redirect is not followed


def test_a_slow_answer_is_cut_at_the_timeout(fake_gateway, settings):
    settings.GATEWAY_TIMEOUT = 0.5
    gateway_client.gateway_reset()
    fake_gateway.faults(answer="slow", slow_ms=5000)

    started = time.monotonic()
    [outcome] = _send()

    assert time.monotonic() - started < 2
    assert (outcome.result, outcome.kind) == (RETRY, "slow_answer")
    assert "HTTP 200 began but its body did not end" in outcome.error


def test_a_huge_answer_is_not_read_into_memory(fake_gateway):
    fake_gateway.faults(answer="huge", huge_bytes=64 * 1024 * 1024)
    gateway()  # the client exists before memory is measured

    tracemalloc.start()
    try:
        outcomes = _send(4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert {o.kind for o in outcomes} == {"too_large"}
    assert peak < 4 * 1024 * 1024  # four 64 MiB answers, read no further than the cap
    assert fake_gateway.stats()["huge_bytes_sent"] < 4 * 64 * 1024 * 1024 / 4  # the client hung up


@pytest.mark.parametrize("status_answer", ["rate_limited", "unavailable"])
@pytest.mark.parametrize("form", ["seconds", "date"])
def test_retry_after_holds_the_message_and_every_call_until_then(fake_gateway, status_answer, form):
    fake_gateway.faults(answer=status_answer, retry_after=3, retry_after_format=form)

    [outcome] = _send()
    later = _send(2, start=2)  # other messages, at once: the whole gateway is held

    [attempt] = fake_gateway.attempts()[1]
    assert outcome.result == RETRY
    assert outcome.kind == status_answer
    assert outcome.retry_at == pytest.approx(attempt["not_before"], abs=1.0)
    assert outcome.retry_at >= attempt["not_before"] - 0.05
    assert "with Retry-After" in outcome.error and "no call before" in outcome.error
    assert {o.result for o in later} == {DEFERRED}
    assert {o.retry_at for o in later} == {outcome.retry_at}
    assert set(fake_gateway.attempts()) == {1}  # no call for the others


def test_retry_after_is_shared_with_other_processes_through_redis(fake_gateway):
    fake_gateway.faults(answer="rate_limited", retry_after=5)
    [outcome] = _send()
    gateway_client.gateway_reset()  # another process: a client that saw nothing itself

    [later] = _send(1, start=2)

    assert later.result == DEFERRED
    assert later.retry_at == pytest.approx(outcome.retry_at)
    assert set(fake_gateway.attempts()) == {1}


def test_retry_after_is_capped_by_the_setting(fake_gateway, settings):
    settings.GATEWAY_RETRY_AFTER_MAX = 2
    gateway_client.gateway_reset()
    fake_gateway.faults(answer="rate_limited", retry_after=3600)

    before = time.time()
    [outcome] = _send()

    assert before + 1.9 <= outcome.retry_at <= time.time() + 2.1
    assert "capped from 3600s (GATEWAY_RETRY_AFTER_MAX)" in outcome.error


def test_a_429_without_retry_after_is_an_ordinary_retry(fake_gateway):
    fake_gateway.faults(answer="rate_limited", retry_after=None)

    [outcome] = _send()
    [again] = _send()

    assert (outcome.result, outcome.retry_at) == (RETRY, None)
    assert "no Retry-After" in outcome.error
    assert again.kind == "rate_limited"  # nothing held: the next call was made


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (formatdate(1_000_060, usegmt=True), 60.0),
        (formatdate(999_000, usegmt=True), 0.0),  # in the past
        ("-5", None),
        ("1.5", None),
        ("٣", None),  # not an ASCII digit
        ("soon", None),
        ("9" * 100, None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value, expected):
    assert retry_after_seconds(value, now=1_000_000) == expected


def test_a_hanging_gateway_times_out_and_is_retried_later(fake_gateway, settings):
    settings.GATEWAY_TIMEOUT = 0.3
    gateway_client.gateway_reset()
    fake_gateway.faults(hang_ratio=1.0)

    started = time.monotonic()
    outcomes = _send(3)

    assert time.monotonic() - started < 2
    assert {o.result for o in outcomes} == {RETRY}
    assert {o.kind for o in outcomes} == {"timeout"}
    assert all("timeout after" in o.error for o in outcomes)


def test_a_wrong_token_is_a_final_failure(fake_gateway, settings):
    settings.GATEWAY_TOKEN = "wrong"
    gateway_client.gateway_reset()

    [outcome] = _send()

    assert (outcome.result, outcome.kind) == (FAILED, "rejected")
    assert "HTTP 401" in outcome.error


def test_a_control_character_in_an_answer_is_escaped():
    outcome = gateway_client._judge(1, 500, {}, b"bad\x00answer\n", retry_after_max=60, now=time.time())

    assert outcome.error == "HTTP 500: bad\\x00answer\\x0a"


def test_no_call_starts_after_the_deadline(fake_gateway):
    outcomes = gateway().send_many(_messages(2), deadline=time.time() - 1)

    assert {o.result for o in outcomes} == {DEFERRED}
    assert fake_gateway.stats()["outcomes"] == {}


def test_a_call_the_deadline_cuts_short_says_so_and_does_not_count_against_the_gateway(fake_gateway, settings):
    # given a gateway that answers in 2 s, and a mailing whose end comes in 0.3 s
    settings.GATEWAY_TIMEOUT = 5.0
    gateway_client.gateway_reset()
    fake_gateway.faults(latency_ms=2000)
    client = gateway()

    # when a message is sent
    [outcome] = client.send_many(_messages(1), deadline=time.time() + 0.3)

    # then the call was made and cut at the end: a retry that names the end, not a timeout
    # of the gateway, and the breaker counted nothing
    assert (outcome.result, outcome.kind) == (RETRY, "mailing_end")
    assert outcome.error.startswith("the mailing's end came during the call (timeout after 0.")
    assert list(client.breaker.window) == []


def test_a_connect_timeout_before_the_mailings_end_is_the_gateways_not_the_end(settings):
    # given a gateway that never completes a connection (its listen backlog is full, so the
    # SYN is dropped), a connect timeout of 0.3 s, and a mailing whose end is 3 s away
    # (less than GATEWAY_TIMEOUT, so the call's budget is cut to the time left)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    settings.GATEWAY_URL = f"http://127.0.0.1:{port}"
    settings.GATEWAY_TIMEOUT = 5.0
    settings.GATEWAY_CONNECT_TIMEOUT = 0.3
    gateway_client.gateway_reset()
    client = gateway()
    try:
        # when a message is sent
        [outcome] = client.send_many(_messages(1), deadline=time.time() + 3)
    finally:
        for sock in (server, *fillers):
            sock.close()

    # then it is the gateway's timeout, held against the gateway, not the mailing's end
    assert (outcome.result, outcome.kind) == (RETRY, "timeout")
    assert list(client.breaker.window) == [False]


def _send_from_a_process(start: int, n: int, at_fraction: float | None, results) -> None:
    gateway_client.gateway_reset()  # the parent's client belongs to the parent
    if at_fraction is not None:  # start at this fraction of a wall-clock second
        time.sleep((at_fraction - time.time() % 1) % 1)
    outcomes = gateway().send_many(_messages(n, start), deadline=time.time() + 60)
    results.put(sorted({o.result for o in outcomes}))


def _in_processes(args_of: list[tuple]) -> list:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=_send_from_a_process, args=(*args, results)) for args in args_of]
    for process in processes:
        process.start()
    answers = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    return answers


def test_the_rate_limit_is_a_moving_window_shared_by_worker_processes(fake_gateway, settings):
    # given a limit of 25 calls a second, all taken by one worker process in a burst just
    # before a wall-clock second ends (where a fixed window would start afresh 50 ms later)
    settings.GATEWAY_RATE_LIMIT = 25
    gateway_client.gateway_reset()
    assert _in_processes([(1, 25, 0.95)]) == [[SENT]]
    store = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    [window] = store.scan_iter(f"{gateway_client.RateLimiter.KEY_PREFIX}*")
    burst_began = min(float(stamp) for stamp in store.lrange(window, 0, -1))  # when the limiter granted

    # when three other worker processes send 10 messages each at once
    outcomes = _in_processes([(i * 100, 10, None) for i in (1, 2, 3)])

    # then all are sent; none reached the gateway before the burst's window had moved on a
    # whole second, and the last five a second later still: 25 a second, over processes
    assert outcomes == [[SENT]] * 3
    arrivals = {message_id: calls[0]["at"] for message_id, calls in fake_gateway.attempts().items()}
    later = sorted(at for message_id, at in arrivals.items() if message_id >= 100)
    assert len(arrivals) == 55
    assert later[0] >= burst_began + 1.0
    assert later[-1] >= burst_began + 2.0


def test_the_breaker_opens_on_failures_probes_once_and_closes_on_success():
    now = [1000.0]
    breaker = CircuitBreaker(
        window=50, min_calls=5, failure_ratio=0.8, cooldown=2, max_cooldown=60, clock=lambda: now[0]
    )
    for _ in range(5):
        assert breaker.allow()
        breaker.record(ok=False)

    assert breaker.is_open and not breaker.allow()
    now[0] += 1.99
    assert not breaker.allow() and breaker.remaining() == pytest.approx(0.01)  # the cool-off holds
    now[0] += 0.01
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one
    breaker.record(ok=True)
    assert not breaker.is_open and breaker.allow()


def test_each_failed_probe_doubles_the_cool_off_up_to_its_maximum():
    now = [0.0]
    breaker = CircuitBreaker(window=50, min_calls=1, failure_ratio=1, cooldown=2, max_cooldown=5, clock=lambda: now[0])
    cool_offs = []
    for _ in range(4):
        assert breaker.allow()
        breaker.record(ok=False)
        cool_offs.append(breaker.remaining())
        now[0] += breaker.remaining()

    assert cool_offs == [2, 4, 5, 5]


@pytest.mark.parametrize("pattern", [[True, False] * 50])
def test_a_flaky_gateway_keeps_the_breaker_closed(pattern):
    breaker = CircuitBreaker(window=50, min_calls=10, failure_ratio=0.8, cooldown=1, max_cooldown=1)
    for ok in pattern:
        breaker.record(ok=ok)

    assert not breaker.is_open


def test_a_chunk_keeps_gateway_concurrency_calls_in_flight_and_no_more(fake_gateway, settings):
    # given a gateway that answers in 50 ms and a client allowed 5 calls at once
    settings.GATEWAY_CONCURRENCY = 5
    gateway_client.gateway_reset()
    fake_gateway.faults(latency_ms=50)

    # when it sends a chunk of 40
    outcomes = _send(40)

    # then every message is sent once, in order, with 5 calls in flight at the most, and at least once all 5
    assert [(outcome.message_id, outcome.result) for outcome in outcomes] == [(i, SENT) for i in range(1, 41)]
    assert sorted(fake_gateway.deliveries()) == list(range(1, 41))
    assert fake_gateway.stats()["max_in_flight"] == 5
