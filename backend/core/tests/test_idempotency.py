"""The Idempotency-Key mechanism: retries replay, concurrent retries create once, reuse conflicts."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule

from core.idempotency import idempotency_keys_purge
from core.models import IdempotencyKey

pytestmark = pytest.mark.urls("core.tests.idempotency_urls")
URL = "/schedules/"


@pytest.mark.django_db
def test_a_retry_with_the_same_key_and_body_replays_the_first_response(client_for_role):
    client = client_for_role("sales")

    first = client.post(URL, {"every": 7}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = client.post(URL, {"every": 7}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert IntervalSchedule.objects.filter(every=7).count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_409(client_for_role):
    client = client_for_role("sales")
    client.post(URL, {"every": 7}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = client.post(URL, {"every": 8}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert not IntervalSchedule.objects.filter(every=8).exists()


@pytest.mark.django_db
def test_keys_belong_to_their_caller(client_for_role):
    one, other = client_for_role("sales", "one"), client_for_role("sales", "other")

    one.post(URL, {"every": 7}, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = other.post(URL, {"every": 7}, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 201
    assert IntervalSchedule.objects.filter(every=7).count() == 2


@pytest.mark.django_db
def test_a_rejected_request_does_not_use_up_its_key(client_for_role):
    client = client_for_role("sales")

    rejected = client.post(URL, {"every": 0}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    corrected = client.post(URL, {"every": 5}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert rejected.status_code == 400
    assert corrected.status_code == 201


@pytest.mark.django_db
def test_an_overlong_key_is_a_400(client_for_role):
    response = client_for_role("sales").post(URL, {"every": 5}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"


@pytest.mark.django_db
def test_an_expired_key_is_forgotten_and_purged(client_for_role):
    client = client_for_role("sales")
    client.post(URL, {"every": 7}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    again = client.post(URL, {"every": 7}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert again.status_code == 201
    assert IntervalSchedule.objects.filter(every=7).count() == 2
    assert idempotency_keys_purge() == 1
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_32_concurrent_retries_with_one_key_create_exactly_one_row(client_for_role):
    client = client_for_role("sales")
    barrier = threading.Barrier(32)
    responses = []

    def send() -> None:
        try:
            barrier.wait()
            responses.append(client.post(URL, {"every": 9}, format="json", HTTP_IDEMPOTENCY_KEY="burst"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [201] * 32
    assert len({r.content for r in responses}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 31
    assert IntervalSchedule.objects.filter(every=9).count() == 1
