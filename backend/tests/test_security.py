"""Security review, as tests: CSRF on the pages, no secrets or personal data in logs,
production cookie and transport flags."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.test import Client

from tests.stack import BACKEND_DIR

pytestmark = pytest.mark.django_db

PHONE, EMAIL = "79161234567", "ann.secret@example.com"


def test_the_login_form_refuses_a_post_without_its_csrf_token(django_user_model):
    django_user_model.objects.create_user(username="viewer", password="a-long-enough-passphrase")

    response = Client(enforce_csrf_checks=True).post(
        "/login/", {"username": "viewer", "password": "a-long-enough-passphrase"}
    )

    assert response.status_code == 403


def test_no_password_phone_or_e_mail_reaches_the_logs(caplog):
    cache.clear()
    client = Client()
    with caplog.at_level(logging.DEBUG):
        created = client.post(
            "/api/v1/useradd/",
            {"name": "Ann", "username": "ann", "phone": PHONE, "email": EMAIL},
            content_type="application/json",
        )
        rejected = client.post(
            "/api/v1/useradd/", {"name": "Ann", "username": "ann", "phone": PHONE}, content_type="application/json"
        )
        token = client.post(
            "/api/v1/auth/token/",
            {"username": "ann", "password": created.json()["password"]},
            content_type="application/json",
        )

    assert (created.status_code, rejected.status_code, token.status_code) == (201, 409, 200)
    logged = caplog.text + "".join(json.dumps(record.__dict__, default=str) for record in caplog.records)
    for secret in (PHONE, EMAIL, created.json()["password"], token.json()["token"]):
        assert secret not in logged


def test_production_cookies_and_transport_are_secure():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SECURE_", "SESSION_"))}
    env.update(
        ENVIRONMENT="production",
        DEBUG="0",
        SECRET_KEY="a-real-secret-key-for-tests-only-0123456789-abcdefghijklmnop",
        ALLOWED_HOSTS="r4c.example",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    names = [
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "X_FRAME_OPTIONS",
        "LOG_FORMAT",
    ]
    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], cwd=BACKEND_DIR, env=env, capture_output=True, text=True, check=True
    ).stdout

    assert json.loads(output) == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "LOG_FORMAT": "json",
    }
