"""The managers' dashboard end to end: robots, orders, a report and two mailings through the
API of the running processes (web, worker, mailing worker, beat, nginx, our fake gateway), then
the page in Chromium: who may see it, the charts' segments, the tables, a report downloaded
from its link, and a screenshot kept in test-results/."""

import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import redis
import requests
from django.conf import settings

from tests.e2e.browser import OUTPUT_DIR, browser_page, sign_in
from tests.stack import deployed_stack, wait_until

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo(settings.TIME_ZONE)


@pytest.fixture(scope="module")
def stack():
    extra_env = {
        "GATEWAY_TIMEOUT": "2",
        "MAILING_RETRY_BASE_SECONDS": "0.1",
        "MAILING_RETRY_MAX_SECONDS": "1",
        "MAILING_WORKER_CONCURRENCY": "1",
    }
    with deployed_stack(extra_env=extra_env) as stack:
        stack.start_fake_gateway()
        stack.start_web()
        stack.start_worker()
        stack.start_worker("mailing-worker", "mailing-worker")
        stack.start_beat()
        stack.start_nginx()
        yield stack


def api(stack, username: str, role: str) -> requests.Session:
    session = stack.api_session(username, role)
    session.base = stack.nginx_url
    return session


def post(session: requests.Session, path: str, body, status: int = 201) -> dict:
    response = session.post(f"{session.base}{path}", json=body, timeout=30)
    assert response.status_code == status, (path, response.text)
    return response.json()


def factory_day(days_ago: int) -> datetime:
    return datetime.combine(datetime.now(ZONE).date() - timedelta(days=days_ago), time.min, tzinfo=ZONE)


def mailing_counts(marketing: requests.Session, mailing_id: int) -> dict:
    return marketing.get(f"{marketing.base}/api/v1/mailings/{mailing_id}/stats/", timeout=10).json()["counts"]


@pytest.fixture(scope="module")
def data(stack):
    """What the platform holds when the manager looks: the figures the page must show."""
    manager = api(stack, "e2e-manager", "manager")
    line = api(stack, "e2e-line", "production_line")
    sales = api(stack, "e2e-sales", "sales")
    marketing = api(stack, "e2e-marketing", "marketing")
    post(manager, "/api/v1/robot-models/", {"code": "R2", "name": "Astromech", "versions": ["D2", "A1"]})
    post(manager, "/api/v1/robot-models/", {"code": "C3", "name": "Protocol", "versions": ["PO"]})
    robots = []
    for serial, days_ago, hour, count in [
        ("R2-D2", 1, 1, 3),  # 01:00 factory time: the evening before in UTC, still yesterday here
        ("C3-PO", 1, 23, 2),
        ("R2-D2", 5, 12, 4),
        ("R2-D2", 45, 12, 1),  # produced, in stock, but before the chart's 30 days
    ]:
        created = (factory_day(days_ago) + timedelta(hours=hour)).strftime("%Y-%m-%d %H:%M:%S")
        model, version = serial.split("-")
        robots += [{"model": model, "version": version, "created": created}] * count
    post(line, "/api/v1/robots/batch/", robots)
    post(sales, "/api/v1/orders/", {"email": "first@example.com", "robot_serial": "R2-D2"})  # reserves one
    for email in ("second@example.com", "third@example.com"):
        post(sales, "/api/v1/orders/", {"email": email, "robot_serial": "R2-A1"})  # none produced: waiting
    report = post(manager, "/api/v1/reports/", {}, status=202)
    wait_until(
        lambda: manager.get(f"{manager.base}/api/v1/reports/{report['id']}/", timeout=10).json()["status"] == "ready",
        timeout=60,
        what="the report to be built",
    )
    # Two mailings: three customers get theirs, then the gateway refuses the next two for good.
    now = datetime.now(ZONE)
    window = {"start_at": now.isoformat(), "end_at": (now + timedelta(minutes=10)).isoformat(), "text": "Robots!"}
    for index in range(5):
        tag = "delivered" if index < 3 else "refused"
        post(marketing, "/api/v1/customers/", {"phone_number": f"7912000000{index}", "tag": tag})
    delivered = post(marketing, "/api/v1/mailings/", {**window, "filter_tag": "delivered"})
    wait_until(lambda: mailing_counts(marketing, delivered["id"])["sent"] == 3, timeout=60, what="3 messages sent")
    requests.post(f"{stack.gateway_url}/_control/faults", json={"reject_ratio": 1}, timeout=5).raise_for_status()
    refused = post(marketing, "/api/v1/mailings/", {**window, "filter_tag": "refused"})
    wait_until(lambda: mailing_counts(marketing, refused["id"])["failed"] == 2, timeout=60, what="2 messages failed")
    return {"report": report}


@pytest.fixture(autouse=True)
def _fresh_useradd_throttle(stack):
    """The stacks of one test run share a cache: start without another module's useradd calls counted."""
    cache = redis.Redis.from_url(stack.env["CACHE_URL"])
    for key in cache.scan_iter(match="*throttle_useradd_*"):
        cache.delete(key)


def test_the_manager_sees_production_stock_orders_reports_and_mailings(stack, data, browser):
    account = requests.post(
        f"{stack.nginx_url}/api/v1/useradd/",
        json={"name": "Mia Manager", "username": "mia-e2e", "email": "mia@r4c.example"},
        timeout=30,
    )
    assert account.status_code == 201, account.text
    credentials = account.json()
    today = datetime.now(ZONE).date()
    yesterday = f"{today - timedelta(days=1):%Y-%m-%d}"

    with browser_page(browser) as (page, console_errors):
        sign_in(page, f"{stack.nginx_url}/dashboard/", login=credentials["login"], password=credentials["password"])
        assert "Not for this account" in page.inner_text("h1")  # a new account has no role yet
        assert console_errors == ["Failed to load resource: the server responded with a status of 403 (Forbidden)"]
        console_errors.clear()

        stack.api_token(credentials["login"], "manager")  # an admin makes it a manager
        response = page.reload()
        assert response.status == 200

        figures = {name: page.inner_text(f"[data-figure={name}]") for name in ("produced", "available", "waiting")}
        assert figures == {"produced": "9", "available": "9", "waiting": "2"}  # 10 robots, 1 reserved
        production = page.locator("#production-chart rect.bar title").all_text_contents()
        assert sorted(production) == sorted(
            [f"{yesterday}: 3 R2", f"{yesterday}: 2 C3", f"{today - timedelta(days=5):%Y-%m-%d}: 4 R2"]
        )
        assert page.locator("#production-chart").is_visible()
        assert page.locator("#production-chart").get_attribute("role") == "img"
        assert "from" in page.locator("#production-chart desc").text_content()
        assert page.locator("#production .legend li").all_inner_texts() == ["C3", "R2"]
        stock = page.locator("#stock-chart rect.bar title").all_text_contents()
        assert sorted(stock) == ["C3-PO: 2 available", "R2-D2: 1 reserved for orders", "R2-D2: 7 available"]
        assert page.locator("#waiting-chart rect.bar title").all_text_contents() == ["R2-A1: 2 orders waiting"]
        messages = page.locator("#messages-chart rect.bar title").all_text_contents()
        assert sorted(messages) == ["messages: 2 failed", "messages: 3 sent"]
        assert "total\t5" in page.inner_text("#messages-table")
        page.locator("#production details summary").click()  # the figures as a table, too
        assert f"{yesterday}\t2\t3\t5" in page.inner_text("#production-table")
        page.screenshot(path=str(OUTPUT_DIR / "dashboard.png"), full_page=True)

        with page.expect_download() as download:
            page.click(f"#reports a[href='/api/v1/reports/{data['report']['id']}/download/']")
        workbook_path = OUTPUT_DIR / "dashboard-report.xlsx"
        download.value.save_as(workbook_path)

    assert console_errors == [], console_errors
    workbook = openpyxl.load_workbook(io.BytesIO(workbook_path.read_bytes()), read_only=True)
    assert "R2" in workbook.sheetnames  # the 7 robots of the last week


def test_the_dashboard_needs_a_signed_in_account_through_nginx(stack):
    response = requests.get(f"{stack.nginx_url}/dashboard/", allow_redirects=False, timeout=10)

    assert response.status_code == 302
    assert response.headers["Location"] == "/login/?next=/dashboard/"
