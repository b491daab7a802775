"""Driving the pages in Chromium (the `browser` fixture): a fresh page, the sign-in form, and
where screenshots and downloads are kept as test artefacts."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-results"


@contextmanager
def browser_page(browser) -> Iterator[tuple[object, list[str]]]:
    """(page, console errors): a page of a fresh context (no cookies, downloads accepted, 1280x900),
    with every error the browser's console reports collected; the context is closed afterwards.
    OUTPUT_DIR exists while it is open."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    try:
        yield page, console_errors
    finally:
        context.close()


def sign_in(page, url: str, *, login: str, password: str) -> None:
    """Opens `url` signed out, which must send the page to the sign-in form, signs in there and
    waits to be back at `url`."""
    page.goto(url)
    assert "/login/" in page.url
    page.fill("#id_username", login)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(url)
