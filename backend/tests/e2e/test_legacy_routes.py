"""The seed-era routes through nginx and the running processes: a robot, an order and a
mailing made and read at the old paths, in the old names, every answer deprecated."""

from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.stack import wait_until

pytestmark = pytest.mark.e2e

DEPRECATION = "@1795392000"  # 2026-11-23 00:00 UTC (legacy.aliases.DEPRECATED_AT)


@pytest.fixture(scope="module")
def callers(stack) -> dict[str, requests.Session]:
    sessions = {role: stack.api_session(f"legacy-{role}", role) for role in ("production_line", "sales", "marketing")}
    manager = stack.api_session("legacy-manager", "manager")
    response = manager.post(f"{stack.nginx_url}/api/v1/robot-models/", json={"code": "L1", "versions": ["G1"]})
    assert response.status_code == 201, response.text
    return sessions | {"manager": manager}


def _deprecated(response: requests.Response, successor: str) -> None:
    assert response.headers["Deprecation"] == DEPRECATION
    assert response.headers["Link"] == f'<{successor}>; rel="successor-version"'


def test_a_robot_and_an_order_through_the_old_routes(stack, callers):
    url = stack.nginx_url
    robot = {"model": "L1", "version": "G1", "created": "2026-11-20 10:00:00"}

    wrong = callers["production_line"].post(f"{url}/api/create_robot", json={**robot, "serial": "L1-G2"})
    made = callers["production_line"].post(f"{url}/api/create_robot", json={**robot, "serial": "L1-G1"})
    anonymous = requests.post(f"{url}/add_robot/", json=robot, timeout=10)
    order = callers["sales"].post(f"{url}/create_order/", data={"email": "shop@example.com", "robot-serial": "L1-G1"})
    workbook = callers["manager"].get(f"{url}/download/")

    assert wrong.status_code == 400 and list(wrong.json()["fields"]) == ["serial"]
    assert made.status_code == 201, made.text
    assert made.json()["serial"] == "L1-G1"
    _deprecated(made, "/api/v1/robots/")
    assert anonymous.status_code == 401
    _deprecated(anonymous, "/api/v1/robots/")
    assert order.status_code == 201, order.text
    assert (order.json()["robot_serial"], order.json()["status"]) == ("L1-G1", "notified")  # the robot was in stock
    _deprecated(order, "/api/v1/orders/")
    assert workbook.status_code == 200
    assert workbook.content[:2] == b"PK"  # an xlsx is a zip
    _deprecated(workbook, "/api/v1/reports/weekly.xlsx")
    # what the old routes made, v1 sees
    robots = callers["manager"].get(f"{url}/api/v1/robots/?model=L1").json()
    assert [item["id"] for item in robots["results"]] == [made.json()["id"]]


def test_a_mailing_through_the_old_mailer_routes(stack, callers):
    url, marketing = stack.nginx_url, callers["marketing"]
    clients = [
        marketing.post(f"{url}/clients/", json={"phone_number": f"7915000000{i}", "tag": "legacy-e2e"})
        for i in range(2)
    ]
    now = datetime.now(UTC)
    body = {
        "start_datetime": now.isoformat(),
        "end_datetime": (now + timedelta(hours=1)).isoformat(),
        "message_text": "Old mailer, new platform",
        "filter_tag": "legacy-e2e",
    }

    created = marketing.post(f"{url}/deliveries/", json=body)
    mailing_id = created.json()["id"]
    # started by the worker (a due mailing starts at once), or by the old route, whichever comes first
    activated = marketing.get(f"{url}/activate_mailing/")
    wait_until(
        lambda: marketing.get(f"{url}/mailings/{mailing_id}/").json()["status"] != "scheduled",
        timeout=30,
        what="the mailing started",
    )
    statistics = marketing.get(f"{url}/deliveries/{mailing_id}/get_detail_statistic/")
    messages = marketing.get(f"{url}/messages/", params={"client": clients[0].json()["id"]})

    assert [client.status_code for client in clients] == [201, 201]
    _deprecated(clients[0], "/api/v1/customers/")
    assert created.status_code == 201, created.text
    assert created.json()["message_text"] == body["message_text"]
    _deprecated(created, "/api/v1/mailings/")
    assert activated.status_code == 200
    _deprecated(activated, "/api/v1/mailings/")
    assert statistics.status_code == 200
    assert statistics.json()["mailing"]["message_text"] == body["message_text"]
    assert statistics.json()["counts"]["total"] == 2
    assert {item["client"] for item in statistics.json()["results"]} == {client.json()["id"] for client in clients}
    _deprecated(statistics, f"/api/v1/mailings/{mailing_id}/stats/")
    assert [item["mailing"] for item in messages.json()["results"]] == [mailing_id]


def test_the_old_swagger_path_is_the_swagger_ui_and_lists_the_old_routes_deprecated(stack, browser):
    page = browser.new_page()
    try:
        response = page.goto(f"{stack.nginx_url}/swagger/", wait_until="networkidle")
        page.wait_for_selector(".opblock", timeout=30_000)
        deprecated = " ".join(page.locator(".opblock-deprecated .opblock-summary").all_inner_texts())
    finally:
        page.close()

    assert response.headers["deprecation"] == DEPRECATION
    for path in ("/add_robot/", "/api/create_robot", "/clients/", "/activate_mailing/"):
        assert path in deprecated
