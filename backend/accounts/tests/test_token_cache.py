"""The per-process token cache (core.authentication): fast, and never wrong for long."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection

from core.authentication import _channel, token_cache
from core.roles import Role

pytestmark = pytest.mark.django_db
ME = "/api/v1/auth/me/"


@pytest.fixture
def line(client_for_role):
    return client_for_role("production_line", "line-1")


def test_a_known_token_is_answered_without_a_query_the_second_time(line):
    assert line.get(ME).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        again = line.get(ME)

    assert again.status_code == 200
    assert again.json()["roles"] == ["production_line"]
    assert not [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]


def test_a_deleted_token_is_refused_at_once(line):
    assert line.get(ME).status_code == 200

    line.user.auth_token.delete()

    assert line.get(ME).status_code == 401


def test_a_removed_role_is_refused_at_once(line):
    assert line.get("/api/v1/robot-models/").status_code == 200

    line.user.groups.remove(Group.objects.get(name=Role.PRODUCTION_LINE))

    assert line.get("/api/v1/robot-models/").status_code == 403


def test_a_deactivated_account_is_refused_at_once(line):
    assert line.get(ME).status_code == 200

    line.user.is_active = False
    line.user.save()

    assert line.get(ME).status_code == 401


def test_a_deleted_role_group_is_refused_at_once(line):
    assert line.get("/api/v1/robot-models/").status_code == 200

    Group.objects.get(name=Role.PRODUCTION_LINE).delete()

    assert line.get("/api/v1/robot-models/").status_code == 403


def test_another_process_invalidating_is_seen_through_redis(line, django_user_model):
    assert line.get(ME).status_code == 200
    # What another process's change leaves behind: a new generation, this process's memory untouched.
    django_user_model.objects.filter(pk=line.user.pk).update(is_active=False)  # no signal
    assert line.get(ME).status_code == 200  # within the staleness bound, from memory

    client = get_redis_connection("default")
    client.publish(_channel(client), b"1")  # what another process's signal sends

    assert line.get(ME).status_code == 401


def test_entries_live_at_most_the_staleness_bound(line, django_user_model, settings, monkeypatch):
    import core.authentication

    assert line.get(ME).status_code == 200
    django_user_model.objects.filter(pk=line.user.pk).update(is_active=False)  # no signal
    now = core.authentication.time.monotonic()
    monkeypatch.setattr(core.authentication.time, "monotonic", lambda: now + settings.API_TOKEN_CACHE_SECONDS + 1)

    assert line.get(ME).status_code == 401


def test_without_redis_every_request_asks_the_database(line, django_user_model, settings):
    # Django's test signals rebuild the cache handler when CACHES changes.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
    assert line.get(ME).status_code == 200

    django_user_model.objects.filter(pk=line.user.pk).update(is_active=False)  # no signal

    assert line.get(ME).status_code == 401
    assert not token_cache._entries


def test_a_lost_subscription_empties_the_cache_and_is_renewed(line, django_user_model, monkeypatch):
    import core.authentication

    monkeypatch.setattr(core.authentication, "RESUBSCRIBE_AFTER", 0)
    assert line.get(ME).status_code == 200
    django_user_model.objects.filter(pk=line.user.pk).update(name="renamed")  # no signal
    # Redis drops the subscriber's connection (a restart would): whatever was published
    # meanwhile is lost, so nothing cached before may be answered after.
    client = get_redis_connection("default")
    for entry in client.client_list(_type="pubsub"):
        client.client_kill_filter(_id=entry["id"])

    with CaptureQueriesContext(connection) as queries:
        assert line.get(ME).status_code == 200

    assert [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]
    assert line.get(ME).status_code == 200  # subscribes again, and loads the token afresh
    with CaptureQueriesContext(connection) as queries:
        assert line.get(ME).status_code == 200
    assert not [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]  # subscribed again
