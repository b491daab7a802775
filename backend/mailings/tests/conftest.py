"""Fixtures of the mailings tests: a fake gateway of our own on loopback, customers."""

import pytest
import redis

from customers.services import customer_create
from mailings import gateway as gateway_client
from tests.fake_gateway import FakeGatewayProcess


@pytest.fixture(scope="session")
def fake_gateway_process():
    process = FakeGatewayProcess()
    yield process
    process.stop()


@pytest.fixture
def fake_gateway(fake_gateway_process, settings):
    """The fake gateway, faults off and records empty; this process's client points at it."""
    fake_gateway_process.reset()
    settings.GATEWAY_URL = fake_gateway_process.url
    settings.GATEWAY_TOKEN = fake_gateway_process.token
    settings.GATEWAY_TIMEOUT = 2.0
    settings.GATEWAY_BREAKER_COOLDOWN = 0.2
    settings.MAILING_RETRY_BASE_SECONDS = 0.01
    settings.MAILING_RETRY_MAX_SECONDS = 0.05
    _forget_shared_state(settings.CELERY_BROKER_URL)
    gateway_client.gateway_reset()
    yield fake_gateway_process
    gateway_client.gateway_reset()


def _forget_shared_state(redis_url: str) -> None:
    """No hold or rate-limit window of an earlier test reaches this one."""
    client = redis.Redis.from_url(redis_url)
    keys = [gateway_client.SharedHold.KEY, *client.scan_iter(f"{gateway_client.RateLimiter.KEY_PREFIX}*")]
    client.delete(*keys)


@pytest.fixture
def make_customers(db):
    """`make_customers(n, tag=..., operator_code=..., timezone=...)`: n customers with phones."""
    counter = iter(range(10**6))

    def make(n: int, *, prefix: str = "912", **fields) -> list:
        return [customer_create(phone_number=f"7{prefix}{next(counter):07d}", **fields) for _ in range(n)]

    return make
