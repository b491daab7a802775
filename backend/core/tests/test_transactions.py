"""No write before the answer is known: an API write commits only with a rendered 2xx."""

import pytest
from django_celery_beat.models import IntervalSchedule

pytestmark = [pytest.mark.urls("core.tests.transaction_urls"), pytest.mark.django_db]


@pytest.fixture
def sales(client_for_role):
    client = client_for_role("sales")
    client.raise_request_exception = False
    return client


def test_a_write_answered_with_a_2xx_is_committed(sales):
    response = sales.post("/writes/created/")

    assert response.status_code == 201
    assert IntervalSchedule.objects.filter(every=len("created")).exists()


@pytest.mark.parametrize(("outcome", "status"), [("refused", 400), ("conflict", 409), ("unrenderable", 500)])
def test_a_write_whose_answer_is_not_a_2xx_is_rolled_back(sales, outcome, status):
    response = sales.post(f"/writes/{outcome}/")

    assert response.status_code == status
    assert not IntervalSchedule.objects.filter(every=len(outcome)).exists()


@pytest.mark.django_db(transaction=True)
def test_outside_any_test_transaction_the_write_is_rolled_back_for_real(client_for_role):
    sales = client_for_role("sales", "sales-real")
    sales.raise_request_exception = False

    committed = sales.post("/writes/created/")
    unrendered = sales.post("/writes/unrenderable/")

    assert (committed.status_code, unrendered.status_code) == (201, 500)
    assert list(IntervalSchedule.objects.values_list("every", flat=True)) == [len("created")]


@pytest.mark.django_db(transaction=True)
def test_a_constraint_that_fires_at_the_commit_is_a_409_naming_the_field(client_for_role):
    sales = client_for_role("sales", "sales-real")
    sales.raise_request_exception = False

    response = sales.post("/writes/dangling/")

    assert response.status_code == 409
    assert response.json()["fields"] == {
        "robot_version": ["Refers to a record that does not exist, or is still referred to."]
    }
    assert not IntervalSchedule.objects.filter(every=len("dangling")).exists()
