"""Fixtures shared by every app's tests."""

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from accounts.services import api_token_create
from core.roles import Role


@pytest.fixture(autouse=True)
def _reports_dir(settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "reports"
    settings.REPORTS_DIR.mkdir()


@pytest.fixture(scope="session", autouse=True)
def _clean_test_redis():
    """The test broker and cache databases start empty, so no run sees another's messages."""
    for url in (settings.CELERY_BROKER_URL, settings.CACHES["default"]["LOCATION"]):
        redis.Redis.from_url(url).flushdb()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for_role(db):
    """`client_for_role("sales")` is an API client authenticated with a token of that role."""

    def make(role: str, username: str | None = None) -> APIClient:
        token = api_token_create(username=username or f"{role}-user", role=Role(role))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        client.user = token.user
        return client

    return make


@pytest.fixture
def admin_client_api(db, django_user_model) -> APIClient:
    admin = django_user_model.objects.create_superuser(username="admin", email="admin@r4c.example", password=None)
    client = APIClient()
    client.force_authenticate(admin)
    return client


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server on loopback; Django's SMTP backend is pointed at it."""
    from devtools.smtp_sink import MemorySink

    sink = MemorySink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    yield sink
    sink.stop()


@pytest.fixture(autouse=True)
def _fresh_catalog_cache():
    """Each test builds its own catalog (new ids): start it with an empty per-process cache."""
    from robots.services import catalog_cache

    catalog_cache.clear()


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    """Tests roll their accounts back: no token of an earlier test is answered from memory."""
    from core.authentication import token_cache

    token_cache.reset()
