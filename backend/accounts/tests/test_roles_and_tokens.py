import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from core.roles import Role

pytestmark = pytest.mark.django_db


def test_the_roles_exist_as_groups_after_migrating():
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.values)


def test_manager_role_may_see_and_edit_the_beat_schedule_in_the_admin():
    codenames = set(Group.objects.get(name="manager").permissions.values_list("codename", flat=True))

    assert {"view_periodictask", "change_periodictask"} <= codenames


def test_create_api_token_creates_the_user_with_the_role_and_prints_the_token_last(capsys, django_user_model):
    call_command("create_api_token", "line-7", "--role", "production_line")
    token = capsys.readouterr().out.strip().splitlines()[-1]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get("/api/v1/auth/me/")
    assert me.status_code == 200
    assert me.json()["roles"] == ["production_line"]
    assert not django_user_model.objects.get(username="line-7").has_usable_password()


def test_create_api_token_is_repeatable_and_adds_roles(capsys):
    call_command("create_api_token", "ops", "--role", "sales")
    first = capsys.readouterr().out.strip().splitlines()[-1]
    call_command("create_api_token", "ops", "--role", "manager")
    second = capsys.readouterr().out.strip().splitlines()[-1]

    assert first == second
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert client.get("/api/v1/auth/me/").json()["roles"] == ["manager", "sales"]


def test_create_api_token_rejects_an_unknown_role():
    with pytest.raises(CommandError):
        call_command("create_api_token", "x", "--role", "janitor")


def test_a_password_account_exchanges_its_credentials_for_a_token(django_user_model):
    user = django_user_model.objects.create_user(username="ann", password="a-long-enough-passphrase")
    client = APIClient()

    response = client.post("/api/v1/auth/token/", {"username": "ann", "password": "a-long-enough-passphrase"})
    wrong = client.post("/api/v1/auth/token/", {"username": "ann", "password": "nope"})

    assert response.status_code == 200
    assert response.json()["token"] == user.auth_token.key
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    assert user.password.startswith("argon2$")


def test_me_needs_authentication():
    assert APIClient().get("/api/v1/auth/me/").status_code == 401


def test_create_api_token_finds_the_account_in_any_case(capsys, django_user_model):
    call_command("create_api_token", "Line-9", "--role", "production_line")
    first = capsys.readouterr().out.strip().splitlines()[-1]
    call_command("create_api_token", "line-9", "--role", "manager")
    second = capsys.readouterr().out.strip().splitlines()[-1]

    assert first == second
    assert django_user_model.objects.filter(username__iexact="line-9").count() == 1


def test_the_token_endpoint_is_throttled_per_client_with_retry_after(settings):
    from django.core.cache import cache
    from rest_framework.settings import api_settings

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**api_settings.DEFAULT_THROTTLE_RATES, "auth": "3/min"},
    }
    client = APIClient()

    answers = [client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}) for _ in range(4)]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert answers[-1].json()["code"] == "throttled"


def test_the_token_endpoint_locks_out_an_address_that_keeps_guessing_like_the_sign_in_form(
    settings, django_user_model, client_address
):
    from django.test import Client

    django_user_model.objects.create_user(username="guessed", password="the-right-passphrase")
    settings.AXES_FAILURE_LIMIT = 3
    client = APIClient(REMOTE_ADDR=client_address)

    answers = [client.post("/api/v1/auth/token/", {"username": "guessed", "password": "wrong"}) for _ in range(3)]
    right_password = client.post("/api/v1/auth/token/", {"username": "guessed", "password": "the-right-passphrase"})
    sign_in_form = Client(REMOTE_ADDR=client_address).post(
        "/login/", {"username": "guessed", "password": "the-right-passphrase"}
    )
    elsewhere = APIClient(REMOTE_ADDR=client_address + "1").post(
        "/api/v1/auth/token/", {"username": "guessed", "password": "the-right-passphrase"}
    )

    assert [a.status_code for a in answers] == [401, 401, 429]
    assert right_password.status_code == 429
    assert right_password.json() == {
        "code": "locked_out",
        "detail": "Too many failed sign-ins from your address; try again in 15 minutes.",
    }
    assert int(right_password["Retry-After"]) == 15 * 60
    assert sign_in_form.status_code == 429  # one count for the API and the form
    assert elsewhere.status_code == 200
    assert "token" in elsewhere.json()


def test_the_throttles_let_requests_through_when_their_store_is_down(settings, client_address):
    from django.core.cache import caches

    from tests.stack import free_port

    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}  # nobody there
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "1/min"},
    }
    client = APIClient(REMOTE_ADDR=client_address)
    try:
        answers = [client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}) for _ in range(3)]
    finally:
        caches["default"].close()

    assert [a.status_code for a in answers] == [401, 401, 401]  # not throttled, and not a 500
