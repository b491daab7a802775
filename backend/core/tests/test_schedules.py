"""The schedule declared in code reaches beat's tables; admins' changes survive a deploy."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.schedule import PERIODIC_JOBS
from core.schedules import MANAGED_MARK, PeriodicJob, periodic_tasks_sync

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
