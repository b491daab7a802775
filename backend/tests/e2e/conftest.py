"""Fixtures that start the platform's real processes."""

import pytest

from tests.stack import deployed_stack


@pytest.fixture(scope="module")
def stack():
    """gunicorn, a worker, beat and nginx, started by their own scripts, on loopback."""
    with deployed_stack() as stack:
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        stack.start_nginx()
        yield stack


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
