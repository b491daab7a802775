"""Accounts end to end: sign up through the API, sign in through the form in Chromium, read the
statistics with their chart, download both exports. Everything through nginx to gunicorn."""

import io

import openpyxl
import psycopg
import pytest
import redis
import requests

from tests.e2e.browser import OUTPUT_DIR, browser_page, sign_in

pytestmark = pytest.mark.e2e

ANN = {"name": "Ann Integrator", "username": "ann-e2e", "phone": "79161234567", "email": "ann.e2e@example.com"}


@pytest.fixture(autouse=True)
def _fresh_useradd_throttle(stack):
    """The stacks of one test run share a cache: start without another module's useradd calls counted."""
    cache = redis.Redis.from_url(stack.env["CACHE_URL"])
    for key in cache.scan_iter(match="*throttle_useradd_*"):
        cache.delete(key)


def useradd(stack, body) -> requests.Response:
    return requests.post(f"{stack.nginx_url}/api/v1/useradd/", json=body, timeout=30)


def test_sign_up_sign_in_see_the_statistics_and_download_both_exports(stack, browser):
    created = useradd(stack, ANN)
    rejected = useradd(stack, {"name": "No Contact", "username": "nocontact"})
    invalid_phone = useradd(stack, {"name": "Bad Phone", "username": "badphone", "phone": "8916"})
    conflict = useradd(stack, {**ANN, "username": "ann-e2e-2"})

    assert created.status_code == 201, created.text
    assert (rejected.status_code, invalid_phone.status_code, conflict.status_code) == (400, 400, 409)
    credentials = created.json()
    assert credentials["login"] == "ann-e2e"
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT outcome, phone_masked, email_masked, client_address FROM registrations_registrationrequest"
        ).fetchall()
    assert sorted(row[0] for row in rows) == ["conflict", "created", "rejected", "rejected"]
    assert ("created", "7916*****67", "a***@e***.com", "127.0.0.1") in rows

    with browser_page(browser) as (page, console_errors):
        # signed out: /stats/ sends us to the sign-in form
        sign_in(page, f"{stack.nginx_url}/stats/", login=credentials["login"], password=credentials["password"])

        assert page.inner_text("[data-figure=total]") == "4"
        assert page.inner_text("[data-figure=created]") == "1"
        assert page.locator("#requests-chart rect.bar").count() == 3  # today: created, rejected, conflict
        assert page.locator("#requests-chart").is_visible()
        by_error = page.inner_text("#by-error")
        assert "non_field_errors.contact_required" in by_error
        assert "phone.invalid_phone" in by_error
        assert "email.already_taken" in by_error
        assert "409" in page.inner_text("#by-status")
        recent = page.inner_text("#recent")
        assert "ann-e2e" in recent and "7916*****67" in recent
        assert "79161234567" not in page.content()
        page.screenshot(path=str(OUTPUT_DIR / "accounts-stats.png"), full_page=True)

        with page.expect_download() as text_download:
            page.click("text=Download .txt")
        text_path = OUTPUT_DIR / "accounts-export.txt"
        text_download.value.save_as(text_path)
        with page.expect_download() as xlsx_download:
            page.click("text=Download .xlsx")
        xlsx_path = OUTPUT_DIR / "accounts-export.xlsx"
        xlsx_download.value.save_as(xlsx_path)

    assert console_errors == [], console_errors
    lines = text_path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("time\trequest_id")
    assert len(lines) == 5
    assert "79161234567" not in text_path.read_text(encoding="utf-8")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_path.read_bytes()), read_only=True)["registration request log"]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 5
    assert [row[4] for row in rows[1:]] == ["created", "rejected", "rejected", "conflict"]


def test_the_pages_need_a_signed_in_account_through_nginx(stack):
    for path in ("/stats/", "/results/", "/stats/export.txt", "/stats/export.xlsx"):
        response = requests.get(f"{stack.nginx_url}{path}", allow_redirects=False, timeout=10)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login/?next=")
