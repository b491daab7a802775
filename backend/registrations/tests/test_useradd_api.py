"""POST /api/v1/useradd/: the rules of DESIGN.md §4 "Accounts" and issue 6, and a log row for each."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from registrations.models import RegistrationRequest
from registrations.tests.conftest import set_useradd_rate

pytestmark = pytest.mark.django_db
URL = "/api/v1/useradd/"
VALID = {"name": "Ann Integrator", "username": "ann", "phone": "79161234567", "email": "ann@example.com"}


def post(api_client, body, **extra):
    return api_client.post(URL, body, format="json", **extra)


def only_log_entry() -> RegistrationRequest:
    entries = list(RegistrationRequest.objects.all())
    assert len(entries) == 1, entries
    return entries[0]


def test_a_valid_request_creates_an_account_with_a_generated_argon2id_password_and_no_role(api_client):
    response = post(api_client, {**VALID, "birth_date": "1990-05-17"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"login", "password"}
    assert body["login"] == "ann"
    assert len(body["password"]) >= 16
    assert response["Cache-Control"] == "no-store"
    user = User.objects.get(username="ann")
    assert user.name == "Ann Integrator"
    assert user.phone == "79161234567"
    assert user.email == "ann@example.com"
    assert str(user.birth_date) == "1990-05-17"
    assert user.password.startswith("argon2$argon2id$")
    assert "m=19456,t=2,p=1" in user.password
    assert body["password"] not in user.password
    assert check_password(body["password"], user.password)
    assert list(user.groups.all()) == []
    assert not user.is_staff and not user.is_superuser


def test_the_new_account_signs_in_but_has_no_api_role(api_client):
    password = post(api_client, VALID).json()["password"]

    token = api_client.post("/api/v1/auth/token/", {"username": "ann", "password": password}).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert api_client.get("/api/v1/auth/me/").json()["roles"] == []


def test_every_password_is_different(api_client):
    first = post(api_client, VALID).json()["password"]
    second = post(api_client, {"name": "Bob", "username": "bob", "email": "bob@example.com"}).json()["password"]

    assert first != second


@pytest.mark.parametrize(
    "contact",
    [
        {"phone": "79161234567"},
        {"email": "ann@example.com"},
        {"phone": "+7 (916) 123-45-67", "email": ""},
        {"phone": "8 (916) 123-45-67"},
    ],
)
def test_one_of_phone_and_email_is_enough(api_client, contact):
    response = post(api_client, {"name": "Ann", "username": "ann", **contact})

    assert response.status_code == 201, response.json()


def test_the_log_records_an_accepted_request_with_masked_contacts_and_no_password(api_client):
    response = post(
        api_client, VALID, HTTP_USER_AGENT="integration-suite/1.0", HTTP_X_REQUEST_ID="5e1f3c2a9b8d4e7f8a6b5c4d3e2f1a0b"
    )

    entry = only_log_entry()
    assert entry.status_code == 201
    assert entry.outcome == "created"
    assert entry.login == "ann"
    assert entry.email_masked == "a***@e***.com"
    assert entry.phone_masked == "7916*****67"
    assert entry.client_address == "127.0.0.1"
    assert entry.user_agent == "integration-suite/1.0"
    assert entry.request_id == "5e1f3c2a9b8d4e7f8a6b5c4d3e2f1a0b"
    assert entry.error_codes == []
    assert entry.duration_ms > 0
    assert entry.user == User.objects.get(username="ann")
    row_text = str(RegistrationRequest.objects.filter(pk=entry.pk).values().get())
    assert response.json()["password"] not in row_text
    assert "79161234567" not in row_text and "ann@example.com" not in row_text


def test_missing_fields_are_all_reported_at_once(api_client):
    response = post(api_client, {})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"name", "username", "non_field_errors"}
    assert body["fields"]["non_field_errors"] == ["Give at least one of phone and email."]
    entry = only_log_entry()
    assert entry.outcome == "rejected"
    assert sorted(entry.error_codes) == ["name.required", "non_field_errors.contact_required", "username.required"]
    assert entry.errors["fields"] == body["fields"]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("phone", "+12025550143", "invalid_phone"),
        ("phone", "7916123456", "invalid_phone"),
        ("phone", "7916123456x", "invalid_phone"),
        ("email", "not-an-address", "invalid"),
        ("birth_date", "1990-02-30", "invalid"),
        ("birth_date", "17.05.1990", "invalid"),
        ("birth_date", "1899-12-31", "too_early"),
        ("username", "a b", "invalid"),
        ("username", "ab", "min_length"),
        ("username", "x" * 151, "max_length"),
        ("name", "   ", "blank"),
        ("password", "my-own-secret", "unknown_field"),
    ],
)
def test_each_invalid_field_is_named_with_its_reason(api_client, field, value, code):
    response = post(api_client, {**VALID, field: value})

    assert response.status_code == 400, response.json()
    assert list(response.json()["fields"]) == [field]
    assert only_log_entry().error_codes == [f"{field}.{code}"]
    assert not User.objects.exists()


def test_a_birth_date_in_the_future_is_rejected(api_client):
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = post(api_client, {**VALID, "birth_date": tomorrow.isoformat()})

    assert response.status_code == 400
    assert only_log_entry().error_codes == ["birth_date.in_future"]


def test_a_password_sent_along_is_never_logged(api_client):
    post(api_client, {**VALID, "password": "hunter2-my-secret"})

    row_text = str(RegistrationRequest.objects.values().get())
    assert "hunter2-my-secret" not in row_text


@pytest.mark.parametrize(
    ("taken", "field"),
    [
        ({"username": "ANN", "email": "other@example.com", "phone": "79000000000"}, "username"),
        ({"username": "ann2", "email": "ANN@EXAMPLE.COM", "phone": "79000000000"}, "email"),
        ({"username": "ann2", "email": "other@example.com", "phone": "79161234567"}, "phone"),
    ],
)
def test_a_taken_login_email_or_phone_is_a_conflict_naming_it(api_client, taken, field):
    assert post(api_client, VALID).status_code == 201

    response = post(api_client, {"name": "Other", **taken})

    assert response.status_code == 409
    assert response.json()["code"] == "already_taken"
    assert list(response.json()["fields"]) == [field]
    assert User.objects.count() == 1
    latest = RegistrationRequest.objects.first()
    assert latest.outcome == "conflict"
    assert latest.error_codes == [f"{field}.already_taken"]


def test_every_taken_field_is_named(api_client):
    post(api_client, VALID)

    response = post(api_client, {**VALID, "name": "Again"})

    assert response.status_code == 409
    assert set(response.json()["fields"]) == {"username", "email", "phone"}


def test_malformed_json_is_a_400_and_is_logged_as_malformed(api_client):
    response = api_client.post(URL, data=b'{"name": "Ann", "username": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    entry = only_log_entry()
    assert entry.outcome == "malformed"
    assert entry.error_codes == ["parse_error"]


@pytest.mark.parametrize("body", [[VALID], "ann", 42])
def test_a_body_that_is_not_an_object_is_malformed(api_client, body):
    response = post(api_client, body)

    assert response.status_code == 400
    assert only_log_entry().outcome == "malformed"


def test_a_form_post_is_a_415_and_is_logged(api_client):
    response = api_client.post(URL, VALID, format="multipart")

    assert response.status_code == 415
    entry = only_log_entry()
    assert entry.outcome == "malformed"
    assert entry.error_codes == ["unsupported_media_type"]


def test_an_oversized_body_is_refused_before_the_view_and_still_logged(api_client, settings):
    settings.MAX_BODY_SIZE = 1000

    response = api_client.post(URL, data=b"{" + b" " * 2000 + b"}", content_type="application/json")

    assert response.status_code == 413
    entry = only_log_entry()
    assert entry.outcome == "malformed"
    assert entry.error_codes == ["request_too_large"]


def test_get_is_not_allowed_and_is_logged(api_client):
    response = api_client.get(URL)

    assert response.status_code == 405
    assert only_log_entry().method == "GET"


def test_a_client_over_its_rate_is_throttled_with_retry_after_and_logged(api_client, settings, client_address):
    set_useradd_rate(settings, "2/min")
    bodies = [{"name": f"U{i}", "username": f"user{i}", "email": f"u{i}@example.com"} for i in range(3)]

    statuses = [post(api_client, body, REMOTE_ADDR=client_address).status_code for body in bodies]
    other_client = post(api_client, {**VALID}, REMOTE_ADDR=client_address + "0").status_code

    assert statuses == [201, 201, 429]
    assert other_client == 201
    throttled = RegistrationRequest.objects.get(outcome="throttled")
    assert throttled.status_code == 429
    assert throttled.login == "user2"
    assert throttled.error_codes == ["throttled"]
    assert throttled.client_address == client_address
    assert not User.objects.filter(username="user2").exists()


def test_only_a_post_asks_for_an_account_options_is_not_logged_and_nothing_else_is_throttled(
    api_client, settings, client_address
):
    set_useradd_rate(settings, "2/min")

    options = [api_client.options(URL, REMOTE_ADDR=client_address).status_code for _ in range(5)]
    reads = [api_client.get(URL, REMOTE_ADDR=client_address).status_code for _ in range(3)]
    posts = [
        post(
            api_client,
            {"name": f"U{i}", "username": f"user{i}", "email": f"u{i}@example.com"},
            REMOTE_ADDR=client_address,
        ).status_code
        for i in range(2)
    ]

    assert options == [200] * 5
    assert reads == [405] * 3  # logged as malformed, never counted against the rate
    assert posts == [201, 201]
    outcomes = sorted(RegistrationRequest.objects.values_list("method", "outcome"))
    assert outcomes == [("GET", "malformed")] * 3 + [("POST", "created")] * 2


def test_behind_nginx_the_client_is_the_address_nginx_saw(api_client, client_address):
    post(api_client, VALID, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {client_address}")

    assert only_log_entry().client_address == client_address


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_one_login_create_one_account_and_a_log_row_each():
    workers = 8
    barrier = threading.Barrier(workers)
    statuses = []

    def register(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            response = Client().post(
                URL,
                {"name": f"Racer {index}", "username": "racer", "email": f"racer{index}@example.com"},
                content_type="application/json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201] + [409] * (workers - 1)
    assert User.objects.filter(username="racer").count() == 1
    assert RegistrationRequest.objects.count() == workers
    assert RegistrationRequest.objects.filter(outcome="created").count() == 1
    assert RegistrationRequest.objects.filter(outcome="conflict").count() == workers - 1


def test_the_request_log_watches_the_route_the_api_is_served_at():
    from registrations.middleware import useradd_path

    assert useradd_path() == URL.rstrip("/")


def test_outcomes_are_counted_for_prometheus(api_client):
    post(api_client, VALID)
    post(api_client, {})

    metrics = api_client.get("/metrics").content.decode()

    assert 'r4c_registration_requests_total{outcome="created"}' in metrics
    assert 'r4c_registration_requests_total{outcome="rejected"}' in metrics
    assert "r4c_registration_request_duration_seconds_bucket" in metrics


def test_the_login_signs_in_in_any_case(api_client):
    password = post(api_client, {**VALID, "username": "Ann.Lee"}).json()["password"]

    for login in ("Ann.Lee", "ann.lee", "ANN.LEE"):
        response = api_client.post("/api/v1/auth/token/", {"username": login, "password": password})
        assert response.status_code == 200, login


def test_a_body_with_thousands_of_unknown_fields_leaves_a_small_log_entry(api_client):
    body = {**VALID, **{f"unknown{i}": i for i in range(5000)}}

    response = post(api_client, body)

    entry = only_log_entry()
    assert response.status_code == 400
    assert len(entry.error_codes) == 20
    assert len(entry.errors["fields"]) == 20
    assert entry.errors["more_fields"] == len(response.json()["fields"]) - 20
