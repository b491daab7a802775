"""core.jobs: the one back-off formula (in Python and in SQL alike) and the job models that share it."""

import pytest
from django.apps import apps
from django.db.models import Value

from core import jobs
from notifications.models import Email


def test_back_off_grows_exponentially_and_is_capped():
    assert 5 <= jobs.backoff_delay(1, base=10, cap=100) <= 10
    assert 20 <= jobs.backoff_delay(3, base=10, cap=100) <= 40
    assert 50 <= jobs.backoff_delay(10, base=10, cap=100) <= 100


def test_the_jitter_covers_the_upper_half_of_the_ceiling():
    assert jobs.backoff_delay(3, base=10, cap=100, random_fraction=lambda: 0.0) == 20
    assert jobs.backoff_delay(3, base=10, cap=100, random_fraction=lambda: 1.0) == 40


def test_a_message_retried_for_hours_does_not_overflow_the_formula():
    assert jobs.backoff_ceiling(100_000, base=2, cap=300) == 300


@pytest.mark.django_db
@pytest.mark.parametrize("attempts", [0, 1, 2, 3, 5, 9, 10, 31, 40, 1000])
def test_the_sql_expression_is_the_same_formula(attempts):
    # given a row to evaluate the expression on
    Email.objects.create(recipients=["a@example.com"], subject="s", body_text="t")
    ceiling = jobs.backoff_ceiling(attempts, base=0.5, cap=300)

    # when PostgreSQL computes the delay many times
    delays = [
        Email.objects.annotate(delay=jobs.backoff_delay_expression(Value(attempts), base=0.5, cap=300)).values_list(
            "delay", flat=True
        )[0]
        for _ in range(20)
    ]

    # then every delay lies where Python's would: in the upper half of the same ceiling
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays), (ceiling, delays)


def test_every_job_model_shares_the_lifecycle_states():
    job_models = [model for model in apps.get_models() if issubclass(model, jobs.Job)]

    assert {model._meta.label for model in job_models} >= {"notifications.Email", "reports.Report"}
    for model in job_models:
        states = {value for value, _ in model._meta.get_field("status").choices}
        assert {jobs.PENDING, jobs.FAILED, model.DONE} <= states, model
