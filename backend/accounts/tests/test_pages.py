"""The accounts pages: sign-in (with django-axes' lockout) and sign-out, the accounts in the admin."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="viewer", password=PASSWORD, email="viewer@example.com")


@pytest.fixture
def signed_in(user) -> Client:
    """A manager: sees the whole log (what other accounts see: tests/test_least_exposure)."""
    user.groups.add(Group.objects.get_or_create(name="manager")[0])
    client = Client()
    client.force_login(user)
    return client


def test_signing_in_through_the_form_leads_to_the_statistics(user):
    client = Client(enforce_csrf_checks=True)
    form = client.get("/login/")
    csrf = form.cookies["csrftoken"].value

    wrong = client.post("/login/", {"username": "viewer", "password": "nope", "csrfmiddlewaretoken": csrf})
    right = client.post("/login/", {"username": "viewer", "password": PASSWORD, "csrfmiddlewaretoken": csrf})

    assert form.status_code == 200
    assert wrong.status_code == 200
    assert "errors" in wrong.content.decode()
    assert right.status_code == 302
    assert right["Location"] == "/stats/"
    assert client.get("/stats/").status_code == 200


def test_sign_out_asks_on_get_and_signs_out_on_post(signed_in):
    confirm = signed_in.get("/logout/")
    done = signed_in.post("/logout/")

    assert confirm.status_code == 200
    assert "Sign out" in confirm.content.decode()
    assert done.status_code == 302
    assert done["Location"] == "/login/"
    assert signed_in.get("/stats/").status_code == 302


def test_the_admin_lists_accounts(admin_client, django_user_model):
    django_user_model.objects.create_user(username="listed", email="l@example.com", phone="79990000000")

    response = admin_client.get("/admin/accounts/user/?q=7999")

    assert response.status_code == 200
    assert "listed" in response.content.decode()


def test_an_address_that_keeps_failing_to_sign_in_is_refused_for_a_while(user, client_address, settings):
    client = Client(REMOTE_ADDR=client_address)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/login/", {"username": "viewer", "password": "wrong"}).status_code == 200

    locking = client.post("/login/", {"username": "someone-else", "password": "wrong"})
    refused = client.post("/login/", {"username": "viewer", "password": PASSWORD})
    elsewhere = Client(REMOTE_ADDR=client_address + "1").post("/login/", {"username": "viewer", "password": PASSWORD})

    assert locking.status_code == 429
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.content.decode()
    assert int(refused["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "_auth_user_id" not in refused.wsgi_request.session  # the right password did not sign in
    assert elsewhere.status_code == 302


def test_a_locked_out_address_is_free_again_after_the_cool_off(user, client_address, settings):
    from axes.models import AccessAttempt

    client = Client(REMOTE_ADDR=client_address)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "viewer", "password": "wrong"})
    assert client.post("/login/", {"username": "viewer", "password": PASSWORD}).status_code == 429

    # The cool-off has passed: the attempts are older than AXES_COOLOFF_TIME.
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert client.post("/login/", {"username": "viewer", "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_a_username_longer_than_any_account_is_a_failed_sign_in_not_a_500(user, path):
    client = Client(raise_request_exception=False)

    response = client.post(path, {"username": "x" * 300, "password": "wrong"})

    assert response.status_code == 200  # the form again, saying the sign-in failed
    assert "_auth_user_id" not in client.session


def test_a_username_longer_than_any_account_is_a_401_on_the_token_endpoint(user):
    response = Client(raise_request_exception=False).post(
        "/api/v1/auth/token/", {"username": "x" * 300, "password": "wrong"}, content_type="application/json"
    )

    assert response.status_code in (400, 401), response.content
