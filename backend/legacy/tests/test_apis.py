"""The seed-era routes: the old paths and names onto v1's rules, deprecated in every answer."""

from datetime import timedelta
from io import BytesIO

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from customers.models import Customer
from customers.services import customer_create
from legacy.aliases import DEPRECATION_HEADER
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from orders.models import Order
from robots.models import Robot
from robots.tests.factories import RobotVersionFactory

pytestmark = pytest.mark.django_db

ROBOT = {"model": "R2", "version": "D2", "created": "2023-10-03 23:59:12"}


@pytest.fixture
def catalog(db):
    return RobotVersionFactory(model__code="R2", code="D2")


@pytest.fixture
def line(client_for_role):
    return client_for_role("production_line", "line-1")


@pytest.fixture
def marketing(client_for_role):
    return client_for_role("marketing")


def _mailing_body(**changes) -> dict:
    now = timezone.now()
    return {
        "start_datetime": (now + timedelta(hours=1)).isoformat(),
        "end_datetime": (now + timedelta(hours=2)).isoformat(),
        "message_text": "Robots\nare 20% off!",
        "filter_tag": "vip",
    } | changes


def _assert_deprecated(response, successor: str) -> None:
    assert response["Deprecation"] == DEPRECATION_HEADER
    assert response["Link"] == f'<{successor}>; rel="successor-version"'


# --- robots, reports, orders ------------------------------------------------------------
@pytest.mark.parametrize("path", ["/add_robot/", "/api/create_robot"])
def test_a_robot_is_recorded_through_either_old_route_as_through_v1(line, catalog, path):
    response = line.post(path, ROBOT, format="json")

    assert response.status_code == 201, response.json()
    assert response.json() | {"id": None} == {
        "id": None,
        "serial": "R2-D2",
        "model": "R2",
        "version": "D2",
        "created": "2023-10-03T23:59:12+03:00",
    }
    assert Robot.objects.get().serial == "R2-D2"
    _assert_deprecated(response, "/api/v1/robots/")


def test_create_robot_takes_the_serial_when_it_is_model_version(line, catalog):
    response = line.post("/api/create_robot", {"serial": "R2-D2", **ROBOT}, format="json")

    assert response.status_code == 201, response.json()
    assert Robot.objects.count() == 1


@pytest.mark.parametrize("serial", ["R2-A1", "R2D2", 5])
def test_create_robot_refuses_a_serial_that_is_not_model_version_naming_serial(line, catalog, serial):
    response = line.post("/api/create_robot", {"serial": serial, **ROBOT}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"serial"}
    assert Robot.objects.count() == 0
    _assert_deprecated(response, "/api/v1/robots/")


def test_v1_rules_apply_to_the_old_routes(line, catalog):
    response = line.post("/add_robot/", {**ROBOT, "created": "2023-10-03"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"created"}


@pytest.mark.parametrize("path", ["/add_robot/", "/api/create_robot"])
def test_the_old_routes_keep_v1s_token_and_role(api_client, client_for_role, catalog, path):
    anonymous = api_client.post(path, ROBOT, format="json")
    sales = client_for_role("sales").post(path, ROBOT, format="json")

    assert (anonymous.status_code, sales.status_code) == (401, 403)
    _assert_deprecated(anonymous, "/api/v1/robots/")
    assert Robot.objects.count() == 0


def test_a_method_the_old_route_never_had_is_refused_though_v1_has_it(line, admin_client_api):
    # GET /api/v1/robots/ lists robots; GET /add_robot/ never did
    refused, admin = line.get("/add_robot/"), admin_client_api.get("/add_robot/")

    assert refused.status_code == 403
    assert admin.status_code == 405
    response = admin
    assert response["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize("path", ["/download/", "/api/excel_table"])
def test_the_weekly_workbook_is_downloaded_from_the_old_routes(client_for_role, path):
    response = client_for_role("manager").get(path)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith("attachment;")
    load_workbook(BytesIO(b"".join(response.streaming_content)))
    _assert_deprecated(response, "/api/v1/reports/weekly.xlsx")


def test_the_download_refuses_other_roles_in_json_whatever_accept_says(client_for_role):
    response = client_for_role("sales").get("/download/", HTTP_ACCEPT="application/vnd.ms-excel")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_an_order_is_taken_from_the_shops_form(client_for_role, catalog):
    response = client_for_role("sales").post(
        "/create_order/", {"email": "ann@example.com", "robot-serial": "R2-D2"}, format="multipart"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["robot_serial"] == "R2-D2"
    assert Order.objects.get().customer.email == "ann@example.com"
    _assert_deprecated(response, "/api/v1/orders/")


def test_an_order_with_a_bad_serial_is_refused_naming_it(client_for_role, catalog):
    response = client_for_role("sales").post(
        "/create_order/", {"email": "ann@example.com", "robot-serial": "R2_D2"}, format="multipart"
    )

    assert response.status_code == 400
    assert "robot_serial" in response.json()["fields"]
    assert Order.objects.count() == 0


def test_swagger_is_the_swagger_ui_of_docs(api_client):
    legacy, docs = api_client.get("/swagger/"), api_client.get("/docs/")

    assert legacy.status_code == docs.status_code == 200
    assert b"swagger-ui" in legacy.content
    _assert_deprecated(legacy, "/docs/")


# --- the mailer ---------------------------------------------------------------------------
def test_clients_are_the_customers(marketing):
    created = marketing.post("/clients/", {"phone_number": "79123456789", "tag": "vip"}, format="json")
    client_id = created.json()["id"]
    changed = marketing.patch(f"/clients/{client_id}/", {"timezone": "GMT+5"}, format="json")
    listed = marketing.get("/clients/")
    deleted = marketing.delete(f"/clients/{client_id}/")

    assert created.status_code == 201, created.json()
    assert created.json()["operator_code"] == "912"
    assert changed.json()["timezone"] == "UTC+05:00"
    assert [item["id"] for item in listed.json()["results"]] == [client_id]
    assert deleted.status_code == 204
    assert not Customer.objects.exists()
    _assert_deprecated(changed, f"/api/v1/customers/{client_id}/")


@pytest.mark.parametrize("collection", ["/mailings/", "/deliveries/"])
def test_a_mailing_is_written_and_read_in_the_old_names(marketing, collection):
    created = marketing.post(collection, _mailing_body(), format="json")
    mailing_id = created.json()["id"]
    replaced = marketing.put(f"{collection}{mailing_id}/", _mailing_body(message_text="New text"), format="json")
    read = marketing.get(f"{collection}{mailing_id}/")
    listed = marketing.get(collection)

    assert created.status_code == 201, created.json()
    assert {"start_datetime", "end_datetime", "message_text", "filter_tag"} <= set(created.json())
    assert not {"start_at", "end_at", "text"} & set(created.json())
    assert created.json()["message_text"] == "Robots\nare 20% off!"
    assert replaced.status_code == 200, replaced.json()
    assert read.json()["message_text"] == "New text"
    assert Mailing.objects.get().text == "New text"
    assert [item["id"] for item in listed.json()["results"]] == [mailing_id]
    _assert_deprecated(read, f"/api/v1/mailings/{mailing_id}/")


def test_a_refused_mailing_names_the_fields_by_their_old_names(marketing):
    start = timezone.now() + timedelta(hours=2)
    response = marketing.post(
        "/mailings/",
        _mailing_body(start_datetime=start.isoformat(), end_datetime=(start - timedelta(hours=1)).isoformat()),
        format="json",
    )
    missing = marketing.post("/deliveries/", {"filter_tag": "vip"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"end_datetime": ["end_datetime must be after start_datetime."]}
    assert set(missing.json()["fields"]) == {"start_datetime", "end_datetime", "message_text"}
    assert not Mailing.objects.exists()


def test_a_control_character_in_the_old_text_field_is_refused_by_its_name(marketing):
    response = marketing.post("/mailings/", _mailing_body(message_text="bad\x00"), format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"message_text"}


def test_messages_and_statistics_in_the_old_names(marketing):
    # given a started mailing with a message to each of two customers
    customers = [customer_create(phone_number=f"7912000000{i}", tag="vip") for i in range(2)]
    created = marketing.post(
        "/mailings/", _mailing_body(start_datetime=timezone.now().isoformat()), format="json"
    ).json()
    started = marketing.get("/activate_mailing/")
    message = Message.objects.filter(customer=customers[0]).get()

    # when the old routes read them
    by_client = marketing.get(f"/messages/?client={customers[0].pk}")
    one = marketing.get(f"/messages/{message.pk}/")
    statistics = marketing.get(f"/mailings/{created['id']}/statistics/")
    detail = marketing.get(f"/deliveries/{created['id']}/get_detail_statistic/")
    general = marketing.get("/deliveries/get_general_statistic")

    # then they answer as v1, in the old names
    assert started.status_code == 200, started.json()
    assert started.json()["activated"] == 1
    assert started.json()["results"][0]["id"] == created["id"]
    assert started.json()["results"][0]["counts"]["pending"] == 2
    assert started.json()["results"][0]["status"] == MailingStatus.RUNNING
    assert [item["id"] for item in by_client.json()["results"]] == [message.pk]
    assert one.json()["client"] == customers[0].pk and "customer" not in one.json()
    assert statistics.json() == detail.json()
    assert statistics.json()["mailing"]["message_text"] == created["message_text"]
    assert statistics.json()["counts"]["total"] == 2
    assert {item["client"] for item in statistics.json()["results"]} == {c.pk for c in customers}
    assert general.json()["totals"]["pending"] == 2
    assert general.json()["results"][0]["start_datetime"] == created["start_datetime"]
    _assert_deprecated(general, "/api/v1/mailings/stats/")
    _assert_deprecated(started, "/api/v1/mailings/")


def test_activate_mailing_starts_nothing_for_a_reader(client_for_role, marketing):
    marketing.post("/mailings/", _mailing_body(start_datetime=timezone.now().isoformat()), format="json")

    response = client_for_role("manager").get("/activate_mailing/")

    assert response.status_code == 403
    assert Mailing.objects.get().status == MailingStatus.SCHEDULED
    assert not Message.objects.filter(status=MessageStatus.PENDING).exists()


def test_messages_are_read_only(marketing):
    assert marketing.post("/messages/", {}, format="json").status_code == 405


def test_the_schema_marks_every_old_operation_deprecated_with_examples(api_client):
    schema = api_client.get("/api/schema/?format=json").json()

    legacy = {
        (method, path): operation
        for path, item in schema["paths"].items()
        if not path.startswith("/api/v1/")
        for method, operation in item.items()
    }
    assert len(legacy) == 29
    assert {operation["tags"][0] for operation in legacy.values()} == {"legacy"}
    assert all(operation["deprecated"] for operation in legacy.values())
    post = legacy[("post", "/mailings/")]
    body = post["requestBody"]["content"]["application/json"]
    assert body["examples"]["Mailing"]["value"]["message_text"]
    component = schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"start_datetime", "end_datetime", "message_text"} <= set(component["required"])
    robot = legacy[("post", "/api/create_robot")]["requestBody"]["content"]["application/json"]
    assert robot["examples"]["Request"]["value"]["serial"] == "R2-D2"
    assert "Deprecation" in legacy[("get", "/download/")]["responses"]["200"]["headers"]
