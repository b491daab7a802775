"""The gateway client against the fake gateway: timeouts, the shared rate limit, the breaker."""

import time

import pytest
import redis

from mailings.gateway import DEFERRED, FAILED, RETRY, SENT, CircuitBreaker, OutgoingMessage, RateLimiter, gateway


def _messages(n: int, start: int = 1) -> list[OutgoingMessage]:
    return [OutgoingMessage(id=i, phone_number=f"7912{i:07d}", text="hi") for i in range(start, start + n)]


def test_a_hanging_gateway_times_out_and_is_retried_later(fake_gateway, settings):
    settings.GATEWAY_TIMEOUT = 0.3
    fake_gateway.faults(hang_ratio=1.0)

    started = time.monotonic()
    outcomes = gateway().send_many(_messages(3), deadline=time.time() + 60)

    assert time.monotonic() - started < 2
    assert {o.result for o in outcomes} == {RETRY}
    assert all("timeout" in o.error for o in outcomes)


def test_a_wrong_token_is_a_final_failure(fake_gateway, settings):
    settings.GATEWAY_TOKEN = "wrong"

    outcomes = gateway().send_many(_messages(1), deadline=time.time() + 60)

    assert outcomes[0].result == FAILED
    assert "HTTP 401" in outcomes[0].error


def test_no_call_starts_after_the_deadline(fake_gateway):
    outcomes = gateway().send_many(_messages(2), deadline=time.time() - 1)

    assert {o.result for o in outcomes} == {DEFERRED}
    assert fake_gateway.stats()["outcomes"] == {}


def test_the_rate_limit_is_shared_through_redis(fake_gateway, settings):
    settings.GATEWAY_RATE_LIMIT = 20
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(
        *[RateLimiter.KEY.format(int(time.time()) + i) for i in range(-1, 5)]
    )

    started = time.monotonic()
    outcomes = gateway().send_many(_messages(50), deadline=time.time() + 60)
    elapsed = time.monotonic() - started

    assert {o.result for o in outcomes} == {SENT}
    assert elapsed >= 1.0  # 50 calls at 20/s span at least two one-second windows


def test_the_breaker_opens_on_failures_probes_once_and_closes_on_success():
    breaker = CircuitBreaker(window=50, min_calls=5, failure_ratio=0.8, cooldown=0.05, max_cooldown=1)
    for _ in range(5):
        assert breaker.allow()
        breaker.record(ok=False)

    assert breaker.is_open and not breaker.allow()
    time.sleep(0.06)
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one
    breaker.record(ok=True)
    assert not breaker.is_open and breaker.allow()


@pytest.mark.parametrize("pattern", [[True, False] * 50])
def test_a_flaky_gateway_keeps_the_breaker_closed(pattern):
    breaker = CircuitBreaker(window=50, min_calls=10, failure_ratio=0.8, cooldown=1, max_cooldown=1)
    for ok in pattern:
        breaker.record(ok=ok)

    assert not breaker.is_open
