"""Fixtures that start the platform's real processes."""

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.stack import PrivateRedis, deployed_stack


@pytest.fixture(scope="module")
def stack():
    """gunicorn, a worker, beat and nginx, started by their own scripts, on loopback."""
    with deployed_stack() as stack:
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        stack.start_nginx()
        yield stack


@pytest.fixture(scope="module")
def redis_server():
    """A Redis server of the test module's own, that its tests may stop and start."""
    work_dir = Path(tempfile.mkdtemp(prefix="r4c-redis-"))
    server = PrivateRedis(work_dir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"],
        )
        yield browser
        browser.close()
