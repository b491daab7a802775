"""The schedule declared in code reaches beat's tables; admins' changes survive a deploy."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.schedule import PERIODIC_JOBS
from core.schedules import MANAGED_MARK, PeriodicJob, job_runs, periodic_tasks_sync

pytestmark = pytest.mark.django_db

JOB = PeriodicJob(name="test: nightly", task="core.tasks.ping_task", crontab="30 0 * * *")


def test_every_job_declared_in_code_is_synced_by_the_command():
    call_command("sync_periodic_tasks")

    synced = dict(PeriodicTask.objects.filter(description__endswith=MANAGED_MARK).values_list("name", "task"))
    assert synced == {job.name: job.task for job in PERIODIC_JOBS}


def test_sync_is_idempotent():
    periodic_tasks_sync(jobs=[JOB])

    again = periodic_tasks_sync(jobs=[JOB])

    assert (again.created, again.updated, again.deleted) == ([], [], [])
    assert PeriodicTask.objects.filter(name=JOB.name).count() == 1


def test_an_admins_new_time_survives_a_sync_unless_reset():
    periodic_tasks_sync(jobs=[JOB])
    entry = PeriodicTask.objects.get(name=JOB.name)
    entry.crontab = CrontabSchedule.objects.create(minute="45", hour="1")
    entry.save()

    periodic_tasks_sync(jobs=[JOB])
    assert PeriodicTask.objects.get(name=JOB.name).crontab.hour == "1"

    periodic_tasks_sync(jobs=[JOB], reset_schedules=True)
    crontab = PeriodicTask.objects.get(name=JOB.name).crontab
    assert (crontab.minute, crontab.hour) == ("30", "0")


def test_jobs_removed_from_code_are_pruned_and_hand_made_ones_are_kept():
    periodic_tasks_sync(jobs=[JOB])
    hand_made = PeriodicTask.objects.create(
        name="by hand", task="core.tasks.ping_task", crontab=CrontabSchedule.objects.create()
    )

    result = periodic_tasks_sync(jobs=[])

    assert result.deleted == [JOB.name]
    assert list(PeriodicTask.objects.values_list("pk", flat=True)) == [hand_made.pk]


def test_a_job_needs_exactly_one_kind_of_schedule():
    with pytest.raises(ValueError):
        PeriodicJob(name="x", task="t")


def _at(*args):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("Europe/Moscow"))


def test_the_runs_of_a_crontab_are_read_from_beats_tables_in_its_time_zone():
    periodic_tasks_sync(jobs=[JOB])  # 00:30 every day, TIME_ZONE (Europe/Moscow)

    runs = job_runs(task=JOB.task, since=_at(2023, 10, 9, 0, 30), until=_at(2023, 10, 11, 0, 30))

    assert runs == [_at(2023, 10, 10, 0, 30), _at(2023, 10, 11, 0, 30)]  # (since, until]


def test_a_weekly_crontab_runs_on_its_day_only():
    periodic_tasks_sync(jobs=[PeriodicJob(name="test: weekly", task="core.tasks.ping_task", crontab="0 6 * * 1")])

    runs = job_runs(task="core.tasks.ping_task", since=_at(2023, 10, 1), until=_at(2023, 10, 20))

    assert runs == [_at(2023, 10, 2, 6, 0), _at(2023, 10, 9, 6, 0), _at(2023, 10, 16, 6, 0)]  # Mondays


def test_an_interval_runs_every_period_and_a_disabled_job_never():
    periodic_tasks_sync(jobs=[PeriodicJob(name="test: often", task="core.tasks.ping_task", every_seconds=2)])

    runs = job_runs(task="core.tasks.ping_task", since=_at(2023, 10, 9), until=_at(2023, 10, 9, 3, 0))
    assert runs == [_at(2023, 10, 9, 1, 0), _at(2023, 10, 9, 2, 0), _at(2023, 10, 9, 3, 0)]  # an hour at least

    PeriodicTask.objects.filter(task="core.tasks.ping_task").update(enabled=False)
    assert job_runs(task="core.tasks.ping_task", since=_at(2023, 10, 9), until=_at(2023, 10, 9, 3, 0)) == []
