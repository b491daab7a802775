"""Fixtures of the mailings tests: a fake gateway of our own on loopback, customers."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from customers.services import customer_create
from mailings import gateway as gateway_client
from tests.stack import free_port, wait_until

BACKEND_DIR = Path(__file__).resolve().parents[2]


class FakeGatewayProcess:
    """`python -m mailings.fake_gateway` in a subprocess, driven through its control API."""

    def __init__(self, *, token: str = "test-token"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "mailings.fake_gateway", "--port", str(self.port), "--token", token],
            cwd=BACKEND_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: requests.get(f"{self.url}/health", timeout=1).ok, timeout=20, what="the fake gateway")

    def faults(self, **changes) -> dict:
        response = requests.post(f"{self.url}/_control/faults", json=changes, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        requests.post(f"{self.url}/_control/reset", timeout=5).raise_for_status()

    def deliveries(self) -> dict[int, dict]:
        return {
            int(key): value for key, value in requests.get(f"{self.url}/_control/deliveries", timeout=10).json().items()
        }

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_control/stats", timeout=5).json()

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)


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
    gateway_client.gateway_reset()
    yield fake_gateway_process
    gateway_client.gateway_reset()


@pytest.fixture
def make_customers(db):
    """`make_customers(n, tag=..., operator_code=..., timezone=...)`: n customers with phones."""
    counter = iter(range(10**6))

    def make(n: int, *, prefix: str = "912", **fields) -> list:
        return [customer_create(phone_number=f"7{prefix}{next(counter):07d}", **fields) for _ in range(n)]

    return make
