"""Issue 12's inputs, one by one: each is answered 400/404/409 naming the field, writes nothing,
and leaves the robot list, the reports and the statistics readable.

The kinds behind them are tested by kind elsewhere (core/tests/test_guards.py, the schema
fuzzing); these are the instances real clients sent.
"""

import json
import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from customers.models import Customer
from customers.services import customer_create
from mailings.models import Mailing
from orders.models import Order
from reports.models import Report
from robots.models import Robot, RobotVersion
from robots.services import robot_model_create

pytestmark = pytest.mark.django_db
NUL = "\x00"
ROBOT = {"model": "R2", "version": "D2", "created": "2023-10-03 23:59:12"}
CONTROL_CHARACTER = "Holds the control character U+{:04X}, which has no meaning here."


@pytest.fixture
def catalog(db):
    return robot_model_create(code="R2", versions=["D2"])


@pytest.fixture
def clients(client_for_role) -> dict[str, APIClient]:
    clients = {role: client_for_role(role) for role in ("production_line", "sales", "marketing", "manager")}
    for client in clients.values():
        client.raise_request_exception = False  # a 500 is an answer to assert on, not an exception
    return clients


def fields(response) -> dict:
    body = response.json()
    assert set(body) >= {"code", "detail", "fields"}, body
    return body["fields"]


def still_readable(clients) -> None:
    """What broke after the bad writes of old: the robot list, the reports, the statistics."""
    manager = clients["manager"]
    assert manager.get("/api/v1/robots/").status_code == 200
    assert manager.get("/api/v1/reports/").status_code == 200
    assert manager.get("/api/v1/mailings/stats/").status_code == 200
    assert manager.get("/api/v1/stock/").status_code == 200


# --- 1. NUL bytes reach PostgreSQL -------------------------------------------------------
def test_a_nul_in_a_path_parameter_is_a_400_naming_it(catalog, clients):
    manager = clients["manager"]

    read = manager.get("/api/v1/robot-models/%00/")
    add = manager.post("/api/v1/robot-models/%00/versions/", {"code": "X1"}, format="json")

    assert read.status_code == add.status_code == 400
    assert fields(read) == fields(add) == {"code": [CONTROL_CHARACTER.format(0)]}
    assert RobotVersion.objects.count() == 1
    still_readable(clients)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/customers/1%00/", "/api/v1/mailings/%01/", "/api/v1/messages/%1b/", "/api/v1/robot-models/R%7f/"],
)
def test_a_control_character_in_any_path_parameter_is_a_400_or_a_404(path, clients, django_user_model):
    admin = Client(raise_request_exception=False)
    admin.force_login(django_user_model.objects.create_superuser("root", "root@example.com", None))

    response = admin.get(path)

    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert list(fields(response)) == ["pk" if "robot-models" not in path else "code"]


def test_control_characters_in_the_query_are_a_400_naming_the_parameter(clients):
    marketing = clients["marketing"]

    value = marketing.get("/api/v1/customers/?tag=vip%00")
    key = marketing.get("/api/v1/customers/?tag%0A=vip")

    assert value.status_code == key.status_code == 400
    assert fields(value) == {"tag": [CONTROL_CHARACTER.format(0)]}
    assert list(fields(key)) == ["tag\\u000a"]


def test_the_useradd_nul_login_is_a_400_and_its_log_entry_is_written(settings, tmp_path):
    from registrations.models import RegistrationRequest

    settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR = tmp_path / "spool"
    body = {"name": "x", "username": "nul\u0000abc", "email": "n@example.com"}

    response = Client().post("/api/v1/useradd/", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert fields(response) == {"username": [CONTROL_CHARACTER.format(0)]}
    assert RegistrationRequest.objects.get().error_codes == ["username.control_character"]
    assert not (tmp_path / "spool").exists() or not list((tmp_path / "spool").rglob("*.json"))


def test_control_characters_anywhere_in_a_json_body_are_named_by_their_place(catalog, clients):
    line = clients["production_line"]
    batch = [ROBOT, {**ROBOT, "model": "R\u0001"}, {**ROBOT, "created": "2023-10-03\t23:59:12"}]

    response = line.post("/api/v1/robots/batch/", batch, format="json")
    key = line.post("/api/v1/robots/", {**ROBOT, "col\u0000our": "red"}, format="json")
    surrogate = line.post("/api/v1/robots/", '{"model": "\\ud800", "version": "D2"}', content_type="application/json")

    assert response.status_code == key.status_code == surrogate.status_code == 400
    assert fields(response) == {
        "1": {"model": [CONTROL_CHARACTER.format(1)]},
        "2": {"created": [CONTROL_CHARACTER.format(9)]},
    }
    assert fields(key) == {"col\\u0000our": ["The field name holds a control character."]}
    assert fields(surrogate) == {"model": [CONTROL_CHARACTER.format(0xD800)]}
    assert not Robot.objects.exists()


def test_control_characters_in_form_fields_are_a_400_naming_them(catalog, clients):
    response = clients["sales"].post(
        "/api/v1/orders/",
        "email=ann%00@example.com&robot-serial=R2-D2",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert fields(response) == {"email": [CONTROL_CHARACTER.format(0)]}
    assert not Order.objects.exists() and not Customer.objects.exists()


@pytest.mark.parametrize(
    ("header", "value", "name"),
    [
        ("HTTP_IDEMPOTENCY_KEY", "key\x00", "Idempotency-Key"),
        ("HTTP_IDEMPOTENCY_KEY", "key\x7f", "Idempotency-Key"),
        ("HTTP_USER_AGENT", "robot\x1b[31m", "User-Agent"),
        ("HTTP_X_FORWARDED_FOR", "10.0.0.1\x00", "X-Forwarded-For"),
    ],
)
def test_control_characters_in_the_headers_the_platform_reads_are_a_400(catalog, clients, header, value, name):
    response = clients["production_line"].post("/api/v1/robots/", ROBOT, format="json", **{header: value})

    assert response.status_code == 400
    assert list(fields(response)) == [name]
    assert not Robot.objects.exists()


def as_wsgi(text: str) -> str:
    """A header value as WSGI hands it to Django: its UTF-8 bytes, one ISO-8859-1 character each."""
    return text.encode().decode("latin-1")


@pytest.mark.parametrize("agent", ["МойКлиент/1.0", "Agent — 1.0", "café"])
def test_non_ascii_text_in_a_header_is_text_not_a_control_character(catalog, clients, settings, tmp_path, agent):
    """UTF-8 bytes 0x80–0x9F look like C1 controls in WSGI's ISO-8859-1 (RFC 9110 obs-text)."""
    from registrations.models import RegistrationRequest

    settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR = tmp_path / "spool"
    robot = clients["production_line"].post("/api/v1/robots/", ROBOT, format="json", HTTP_USER_AGENT=as_wsgi(agent))
    key = clients["production_line"].post(
        "/api/v1/robots/", ROBOT, format="json", HTTP_IDEMPOTENCY_KEY=as_wsgi(f"k-{agent}")
    )
    useradd = Client().post(
        "/api/v1/useradd/",
        json.dumps({"name": "x", "username": "agent", "email": "agent@example.com"}),
        content_type="application/json",
        HTTP_USER_AGENT=as_wsgi(agent),
    )

    assert (robot.status_code, key.status_code, useradd.status_code) == (201, 201, 201)
    assert RegistrationRequest.objects.get().user_agent == agent


def test_a_control_character_in_the_token_is_a_400_not_a_database_error(catalog):
    response = APIClient().get("/api/v1/robot-models/", HTTP_AUTHORIZATION="Token abc\x00def")

    assert response.status_code == 400
    assert list(fields(response)) == ["Authorization"]


def test_a_nul_in_the_session_cookie_is_a_400_not_a_database_error(django_user_model):
    client = Client(raise_request_exception=False)

    # A quoted cookie value: Django reads \000 in it as an octal escape, i.e. a NUL.
    response = client.get("/stats/", HTTP_COOKIE='sessionid="\\000abcdefghij"')

    assert response.status_code == 400
    assert list(fields(response)) == ["sessionid"]


def test_a_mailing_text_may_hold_line_breaks_and_tabs_but_nothing_else_of_the_kind(clients):
    marketing = clients["marketing"]
    start = timezone.now() + timedelta(days=1)
    mailing = {"start_at": start.isoformat(), "end_at": (start + timedelta(hours=1)).isoformat()}

    lines = marketing.post("/api/v1/mailings/", {**mailing, "text": "Hello,\r\n\tnew robots!"}, format="json")
    nul = marketing.post("/api/v1/mailings/", {**mailing, "text": "Hello\x00"}, format="json")
    tag = marketing.post("/api/v1/mailings/", {**mailing, "text": "Hi", "filter_tag": "vip\n"}, format="json")

    assert lines.status_code == 201
    assert lines.json()["text"] == "Hello,\r\n\tnew robots!"
    assert nul.status_code == tag.status_code == 400
    assert list(fields(nul)) == ["text"] and list(fields(tag)) == ["filter_tag"]
    assert Mailing.objects.count() == 1


# --- 2. Datetimes at the edges of the calendar -------------------------------------------
@pytest.mark.parametrize(
    ("created", "message"),
    [
        ("0001-01-01 00:00:00", "The year must lie between 2000 and 2100."),
        ("0001-01-01 00:00:00+05:00", "The year must lie between 2000 and 2100."),
        ("0001-01-01T00:00:00+05:00", "The year must lie between 2000 and 2100."),
        ("2023-10-03", "is a date without a time"),
        ("2023-W40-2", "is not a date and time"),
        ("2023-10-03T23:59:12+22:38", "The UTC offset must lie within ±14:00."),
        ("٢٠٢٣-١٠-٠٣ ٢٣:٥٩:١٢", "is not a date and time"),
    ],
)
def test_a_robot_created_outside_the_calendar_is_a_400_single_and_batch(catalog, clients, created, message):
    line = clients["production_line"]

    single = line.post("/api/v1/robots/", {**ROBOT, "created": created}, format="json")
    batch = line.post("/api/v1/robots/batch/", [ROBOT, {**ROBOT, "created": created}], format="json")

    assert single.status_code == batch.status_code == 400
    assert message in fields(single)["created"][0]
    assert list(fields(batch)) == ["1"] and message in fields(batch)["1"]["created"][0]
    assert not Robot.objects.exists()
    still_readable(clients)


def test_a_robot_from_beyond_the_clock_skew_is_a_400(catalog, clients, settings):
    future = timezone.now() + timedelta(seconds=settings.ROBOT_CLOCK_SKEW + 60)

    response = clients["production_line"].post(
        "/api/v1/robots/", {**ROBOT, "created": future.isoformat()}, format="json"
    )

    assert response.status_code == 400
    assert fields(response) == {"created": ["A robot cannot be finished in the future."]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"until": "0001-01-03 00:00:00"}, "until"), ({"since": "9999-12-31 23:00:00"}, "since")],
)
def test_a_report_period_outside_the_calendar_is_a_400_before_any_arithmetic(clients, payload, field):
    response = clients["manager"].post("/api/v1/reports/", payload, format="json")

    assert response.status_code == 400
    assert fields(response) == {field: ["The year must lie between 2000 and 2100."]}
    assert not Report.objects.exists()
    still_readable(clients)


@pytest.mark.parametrize(
    "query",
    [
        "created_before=7358-10-07T19:24:00.21%2B22:38",
        "created_after=2023-10-03",
        "created_after=2023-10-03T00:00:00%2B14:30",
        "created_before=0001-01-01T00:00:00Z",
    ],
)
def test_a_robot_list_filter_outside_the_calendar_is_a_400_naming_it(catalog, clients, query):
    response = clients["manager"].get(f"/api/v1/robots/?{query}")

    assert response.status_code == 400
    assert list(fields(response)) == [query.split("=")[0]]


def test_mailing_times_outside_the_calendar_are_a_400(clients):
    response = clients["marketing"].post(
        "/api/v1/mailings/",
        {"start_at": "2023-10-03", "end_at": "9999-12-31T23:59:59+14:00", "text": "x"},
        format="json",
    )

    assert response.status_code == 400
    assert set(fields(response)) == {"start_at", "end_at"}
    assert not Mailing.objects.exists()


def test_nothing_is_written_when_the_answer_fails_after_a_write(catalog, clients):
    """The old partial write: `created` +05:00 in year 1 was committed, then could not be rendered.
    Such a date is refused now; core/tests/test_transactions.py shows any other such case rolls back."""
    response = clients["production_line"].post(
        "/api/v1/robots/", {**ROBOT, "created": "0001-01-01 00:00:00+05:00"}, format="json"
    )

    assert response.status_code == 400
    assert not Robot.objects.exists()


# --- 3. API checks at least as strict as the database ------------------------------------
def test_non_ascii_digits_in_a_useradd_phone_are_a_400_not_a_database_error(settings, tmp_path):
    settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR = tmp_path / "spool"
    body = {"name": "x", "username": "arab", "phone": "7" + "٩" * 10}

    response = Client(raise_request_exception=False).post(
        "/api/v1/useradd/", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 400
    assert list(fields(response)) == ["phone"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timezone", "GMT+٣"),
        ("timezone", "UTC+１４"),
        ("phone_number", "7" + "٩" * 10),
        ("operator_code", "٩١٢"),
        ("phone_number", "７９１２３４５６７８９"),
    ],
)
def test_non_ascii_digits_in_a_customer_are_a_400(clients, field, value):
    response = clients["marketing"].post("/api/v1/customers/", {"email": "c@example.com", field: value}, format="json")

    assert response.status_code == 400
    assert field in fields(response)  # a phone's digits 2-4 make the operator code: it is named too
    assert not Customer.objects.exists()


def test_a_constraint_the_api_failed_to_check_is_still_a_409_naming_the_field(clients, rf):
    """The exception handler reads PostgreSQL's own report of the violation."""
    from core.exceptions import exception_handler

    customer_create(phone_number="79120000000")
    try:
        with transaction.atomic():
            Customer.objects.create(phone_number="79120000000", operator_code="912")
    except IntegrityError as exc:
        response = exception_handler(exc, {})

    assert response.status_code == 409
    assert response.data["fields"] == {"phone_number": ["Already in use."]}

    try:
        with transaction.atomic():
            Customer.objects.create(phone_number="7912000000X")
    except IntegrityError as exc:
        response = exception_handler(exc, {})

    assert response.status_code == 400
    assert response.data["fields"] == {"phone_number": ["This value is not accepted."]}


# --- 6. Parser and page edges ------------------------------------------------------------
def json_body_operations() -> list[tuple[str, str]]:
    generator = SchemaGenerator()
    schema = generator.get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    )


@pytest.mark.parametrize(("method", "path"), json_body_operations())
def test_json_nested_beyond_the_limit_is_a_400_on_every_json_endpoint(method, path, catalog, django_user_model):
    admin = APIClient()
    admin.force_authenticate(django_user_model.objects.create_superuser("root", "root@example.com", None))
    start = timezone.now() + timedelta(days=1)
    existing = {  # the object a path's id names must exist, or the answer is a 404 before the body is read
        "customers": lambda: customer_create(email="x@example.com").pk,
        "mailings": lambda: Mailing.objects.create(start_at=start, end_at=start + timedelta(hours=1), text="x").pk,
        "robot-models": lambda: "R2",
    }
    url = path
    if "{" in path:
        url = re.sub(r"\{\w+\}", str(existing[path.split("/")[3]]()), path)

    started = time.monotonic()
    response = getattr(admin, method.lower())(url, "[" * 1000 + "]" * 1000, content_type="application/json")

    assert response.status_code == 400, (url, response.status_code, response.content[:200])
    assert response.json()["code"] == "parse_error"
    assert time.monotonic() - started < 5


def test_options_on_the_docs_is_answered(client):
    response = client.options("/docs/")

    assert response.status_code == 200
    assert "GET" in response["Allow"]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/orders/", {"robot_serial": "R2-D2"}),
        ("/api/v1/customers/", {}),
    ],
)
def test_an_address_with_a_65_octet_local_part_is_a_400_everywhere_it_is_taken(catalog, clients, url, body):
    role = "sales" if "orders" in url else "marketing"

    response = clients[role].post(url, {**body, "email": "a" * 65 + "@example.com"}, format="json")

    assert response.status_code == 400
    assert fields(response) == {"email": ["The part before @ is 65 characters long; mail servers take at most 64."]}
    assert not Order.objects.exists() and not Customer.objects.exists()


def test_useradd_refuses_such_an_address_too(settings, tmp_path):
    from accounts.models import User

    settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR = tmp_path / "spool"
    body = {"name": "x", "username": "long-local", "email": "a" * 65 + "@example.com"}

    response = Client().post("/api/v1/useradd/", json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert list(fields(response)) == ["email"]
    assert not User.objects.filter(username="long-local").exists()


# --- 7. One way to validate filters ------------------------------------------------------
def test_a_bad_filter_value_is_a_400_on_lists_and_statistics_alike(clients):
    marketing = clients["marketing"]
    start = timezone.now() + timedelta(days=1)
    mailing = Mailing.objects.create(start_at=start, end_at=start + timedelta(hours=1), text="x")

    for url in (
        "/api/v1/mailings/?status=bogus",
        "/api/v1/mailings/stats/?status=bogus",
        f"/api/v1/mailings/{mailing.pk}/stats/?status=bogus",
        "/api/v1/messages/?status=bogus",
    ):
        response = marketing.get(url)
        assert response.status_code == 400, url
        assert list(fields(response)) == ["status"]


@pytest.mark.parametrize("value", ["1e999999999", "٣", "99999999999999999999", "-1", "1.5"])
def test_an_id_filter_takes_ascii_whole_numbers_only_and_at_once(clients, value):
    started = time.monotonic()

    response = clients["marketing"].get(f"/api/v1/messages/?mailing={value}")

    assert response.status_code == 400
    assert list(fields(response)) == ["mailing"]
    assert time.monotonic() - started < 5  # never a billion-digit integer built from "1e999999999"


def test_the_statistics_page_refuses_a_bad_filter_too(django_user_model):
    reader = django_user_model.objects.create_user(username="boss", password=None)
    reader.groups.add(Group.objects.get_or_create(name="manager")[0])
    client = Client()
    client.force_login(reader)

    assert client.get("/stats/?outcome=bogus").status_code == 400
    assert client.get("/stats/?days=8").status_code == 400
    assert client.get("/stats/?outcome=rejected&days=7").status_code == 200


def test_a_page_form_field_with_a_control_character_is_a_400_naming_it(django_user_model):
    django_user_model.objects.create_user(username="viewer", password="a-long-enough-passphrase")

    refused = Client().post("/login/", {"username": "viewer\x01", "password": "a-long-enough-passphrase"})
    signed_in = Client().post("/login/", {"username": "viewer", "password": "a-long-enough-passphrase"})

    assert refused.status_code == 400
    assert list(fields(refused)) == ["username"]
    assert signed_in.status_code == 302


@pytest.mark.parametrize("parameter", ["page", "page_size"])
@pytest.mark.parametrize("value", ["٢", "２", "0", "-1", "1e3", "02", " 2", "2.0", ""])
def test_a_page_or_page_size_that_is_not_a_positive_ascii_number_is_a_400(catalog, clients, parameter, value):
    response = clients["manager"].get("/api/v1/robot-models/", {parameter: value})

    assert response.status_code == 400
    assert list(fields(response)) == [parameter]


def test_pages_are_numbered_from_1_the_last_is_last_and_past_it_is_a_404(catalog, clients):
    for code in ("A1", "A2", "A3"):
        robot_model_create(code=code, versions=["B1"])
    manager = clients["manager"]

    second = manager.get("/api/v1/robot-models/", {"page": "2", "page_size": "2"})
    last = manager.get("/api/v1/robot-models/", {"page": "last", "page_size": "3"})
    past = manager.get("/api/v1/robot-models/", {"page": "3", "page_size": "2"})
    capped = manager.get("/api/v1/robot-models/", {"page_size": "100000"})

    assert second.status_code == last.status_code == capped.status_code == 200
    assert len(second.json()["results"]) == 2 and second.json()["previous"]
    assert len(last.json()["results"]) == 1
    assert past.status_code == 404
    assert capped.json()["count"] == 4
