"""Driving devtools.fake_gateway from tests: its control API, and the process for tests
that do not run it under a Stack."""

from __future__ import annotations

import subprocess
import sys

import requests

from tests.stack import BACKEND_DIR, free_port, wait_until


class FakeGatewayControl:
    """The control API of a running fake gateway (devtools/fake_gateway.py says what each does)."""

    def __init__(self, url: str):
        self.url = url

    def wait_ready(self) -> None:
        wait_until(lambda: requests.get(f"{self.url}/health", timeout=1).ok, timeout=20, what="the fake gateway")

    def faults(self, **changes) -> dict:
        response = requests.post(f"{self.url}/_control/faults", json=changes, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        requests.post(f"{self.url}/_control/reset", timeout=5).raise_for_status()

    def deliveries(self) -> dict[int, dict]:
        answer = requests.get(f"{self.url}/_control/deliveries", timeout=10).json()
        return {int(key): value for key, value in answer.items()}

    def attempts(self) -> dict[int, list[dict]]:
        answer = requests.get(f"{self.url}/_control/attempts", timeout=10).json()
        return {int(key): value for key, value in answer.items()}

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_control/stats", timeout=5).json()


class FakeGatewayProcess(FakeGatewayControl):
    """`python -m devtools.fake_gateway` in a subprocess of the test."""

    def __init__(self, *, token: str = "test-token"):
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}")
        self.token = token
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "devtools.fake_gateway", "--port", str(self.port), "--token", token],
            cwd=BACKEND_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_ready()

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
