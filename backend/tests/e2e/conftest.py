"""Fixtures that start the platform's real processes."""

import shutil
import tempfile
from pathlib import Path

import pytest
import redis

from tests.stack import Stack


@pytest.fixture(scope="module")
def stack():
    """gunicorn, a worker, beat and nginx, started by their own scripts, on loopback."""
    # Not under pytest's private temp root: nginx's unprivileged workers read static files here.
    work_dir = Path(tempfile.mkdtemp(prefix="r4c-stack-"))
    stack = Stack(work_dir=work_dir)
    redis.Redis.from_url(stack.broker_url).flushdb()
    stack.prepare()
    try:
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        stack.start_nginx()
        yield stack
    finally:
        stack.stop_all()
        stack.drop_database()
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
