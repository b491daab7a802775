"""Nightly reports missed while beat was down are built afterwards, once each."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.schedule import PERIODIC_JOBS
from core.schedules import periodic_tasks_sync
from reports.models import Report, ReportKind, ReportStatus
from reports.services import NIGHTLY_TASK, nightly_period, nightly_report_request, nightly_reports_catch_up
from reports.tests.conftest import local

pytestmark = pytest.mark.django_db

MONDAY = local(2023, 10, 9, 0, 30, 0)  # the nightly job's default time: 00:30 factory time


@pytest.fixture(autouse=True)
def schedule():
    """The schedule of config/schedule.py in beat's tables, as the release step leaves it."""
    periodic_tasks_sync(jobs=PERIODIC_JOBS)


def _periods() -> list[tuple]:
    return list(Report.objects.filter(kind=ReportKind.NIGHTLY).order_by("period_end").values_list("period_end"))


def test_every_night_missed_since_the_newest_report_is_asked_for_once():
    # given the report of Monday's night, then beat down until Thursday 10:00
    nightly_report_request(now=MONDAY)

    # when the sweeper looks (twice, as every sweep does)
    caught_up = nightly_reports_catch_up(now=local(2023, 10, 12, 10, 0))
    again = nightly_reports_catch_up(now=local(2023, 10, 12, 10, 5))

    # then Tuesday's, Wednesday's and Thursday's nights are asked for, oldest first, once
    assert [r.period_end for r in caught_up] == [local(2023, 10, d) for d in (10, 11, 12)]
    assert again == []
    assert _periods() == [(local(2023, 10, d),) for d in (9, 10, 11, 12)]
    assert all(r.email_managers and r.status == ReportStatus.PENDING for r in caught_up)
    assert [nightly_period(now=local(2023, 10, 12, 0, 30))] == [(caught_up[-1].period_start, caught_up[-1].period_end)]


def test_a_night_is_not_caught_up_before_its_scheduled_time():
    nightly_report_request(now=MONDAY)

    assert nightly_reports_catch_up(now=local(2023, 10, 10, 0, 29)) == []
    assert len(nightly_reports_catch_up(now=local(2023, 10, 10, 0, 31))) == 1


def test_the_admins_time_is_the_one_caught_up():
    # given an admin moved the nightly job to 06:00 in beat's tables
    entry = PeriodicTask.objects.get(task=NIGHTLY_TASK)
    entry.crontab = CrontabSchedule.objects.create(minute="0", hour="6", timezone="Europe/Moscow")
    entry.save()
    nightly_report_request(now=MONDAY)

    assert nightly_reports_catch_up(now=local(2023, 10, 10, 5, 59)) == []
    assert [r.period_end for r in nightly_reports_catch_up(now=local(2023, 10, 10, 6, 0))] == [local(2023, 10, 10)]


def test_catch_up_reaches_back_at_most_reports_catchup_days(settings):
    settings.REPORTS_CATCHUP_DAYS = 3
    nightly_report_request(now=MONDAY)

    caught_up = nightly_reports_catch_up(now=local(2023, 10, 30, 12, 0))

    assert [r.period_end for r in caught_up] == [local(2023, 10, d) for d in (28, 29, 30)]


def test_catch_up_can_be_switched_off(settings):
    settings.REPORTS_CATCHUP_DAYS = 0
    nightly_report_request(now=MONDAY)

    assert nightly_reports_catch_up(now=local(2023, 10, 12, 10, 0)) == []


def test_a_disabled_nightly_job_is_not_caught_up():
    PeriodicTask.objects.filter(task=NIGHTLY_TASK).update(enabled=False)
    nightly_report_request(now=MONDAY)

    assert nightly_reports_catch_up(now=local(2023, 10, 12, 10, 0)) == []


def test_a_fresh_installation_builds_nothing_for_its_past():
    # given no nightly report, and the platform installed on Wednesday at noon
    MigrationRecorder.Migration.objects.filter(app="reports").update(applied=local(2023, 10, 11, 12, 0))

    # then the nights before it are not built, the first one after it is
    assert nightly_reports_catch_up(now=local(2023, 10, 12, 0, 0)) == []
    assert [r.period_end for r in nightly_reports_catch_up(now=local(2023, 10, 12, 1, 0))] == [local(2023, 10, 12)]


def test_an_on_demand_report_is_no_anchor():
    nightly_report_request(now=MONDAY)
    Report.objects.create(kind=ReportKind.ON_DEMAND, period_start=local(2023, 10, 5), period_end=local(2023, 10, 11))

    assert len(nightly_reports_catch_up(now=local(2023, 10, 11, 1, 0))) == 2


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_record_each_missed_night_once():
    # given two beats' sweeps running the catch-up in two workers at the same moment
    periodic_tasks_sync(jobs=PERIODIC_JOBS)
    nightly_report_request(now=MONDAY)
    start = threading.Barrier(2)
    failures = []

    def sweep() -> None:
        try:
            start.wait(timeout=10)
            nightly_reports_catch_up(now=local(2023, 10, 12, 10, 0))
        except Exception as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert _periods() == [(local(2023, 10, d),) for d in (9, 10, 11, 12)]


def test_the_sweep_task_catches_up(settings, django_capture_on_commit_callbacks):
    from reports.tasks import reports_sweep_task

    nightly_report_request(now=MONDAY - timedelta(days=400))  # long ago: only the last week is due

    reports_sweep_task()

    assert Report.objects.filter(kind=ReportKind.NIGHTLY).count() == 1 + settings.REPORTS_CATCHUP_DAYS
