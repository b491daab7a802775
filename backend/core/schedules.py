"""Periodic jobs declared in code, synced into django-celery-beat; when a job was due, for the
catch-up of runs that beat missed.

The project names its list of jobs in the PERIODIC_JOBS setting (a dotted path: the list lives
in config/schedule.py), so core finds it without importing the project.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

MANAGED_MARK = "[managed in code: config/schedule.py]"


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str
    crontab: str | None = None  # "minute hour day-of-month month day-of-week"
    every_seconds: int | None = None
    kwargs: dict = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        if (self.crontab is None) == (self.every_seconds is None):
            raise ValueError(f"{self.name}: give exactly one of crontab and every_seconds")


def periodic_jobs() -> list[PeriodicJob]:
    """Every periodic job of the project: the list the PERIODIC_JOBS setting names."""
    return list(import_string(settings.PERIODIC_JOBS))


@dataclass
class SyncResult:
    created: list[str]
    updated: list[str]
    deleted: list[str]


def _schedule_for(job: PeriodicJob) -> dict:
    if job.every_seconds is not None:
        interval, _ = IntervalSchedule.objects.get_or_create(every=job.every_seconds, period=IntervalSchedule.SECONDS)
        return {"interval": interval, "crontab": None}
    minute, hour, day_of_month, month_of_year, day_of_week = job.crontab.split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=settings.TIME_ZONE,
    )
    return {"crontab": crontab, "interval": None}


@transaction.atomic
def periodic_tasks_sync(*, jobs: list[PeriodicJob], reset_schedules: bool = False) -> SyncResult:
    """Creates missing jobs, updates what code owns (task, arguments), prunes jobs gone from code.

    When a job runs is the admins' to change: an existing entry keeps its schedule and its
    enabled flag unless `reset_schedules` puts the code's defaults back.
    """
    result = SyncResult(created=[], updated=[], deleted=[])
    for job in jobs:
        owned = {
            "task": job.task,
            "kwargs": json.dumps(job.kwargs),
            "description": f"{job.description} {MANAGED_MARK}".strip(),
        }
        entry = PeriodicTask.objects.select_for_update().filter(name=job.name).first()
        if entry is None:
            PeriodicTask.objects.create(name=job.name, **owned, **_schedule_for(job))
            result.created.append(job.name)
            continue
        changes = {key: value for key, value in owned.items() if getattr(entry, key) != value}
        if reset_schedules:
            changes.update(_schedule_for(job), enabled=True)
        if changes:
            for key, value in changes.items():
                setattr(entry, key, value)
            entry.save()
            result.updated.append(job.name)
    names = {job.name for job in jobs}
    for stale in PeriodicTask.objects.filter(description__endswith=MANAGED_MARK).exclude(name__in=names):
        result.deleted.append(stale.name)
        stale.delete()
    return result


# --- when a job was due -----------------------------------------------------------------
# An interval shorter than this is stepped through at this pace: the catch-ups only need
# to see each day's period, not every tick of a job that runs every few seconds.
INTERVAL_STEP_FLOOR = timedelta(hours=1)


def job_runs(*, task: str, since: datetime, until: datetime) -> list[datetime]:
    """The moments in (since, until] at which beat was due to run `task`, oldest first, read
    from the schedule in django-celery-beat's tables (the one admins change), not from what
    beat remembers having run.

    A crontab is due at every minute it matches, in its own time zone (celery's crontab:
    day of month and day of week must both match; day of week 0 is Sunday). An interval is
    due every `every` (at least INTERVAL_STEP_FLOOR) back from `until`. A job that is
    disabled, absent, or on a clocked or solar schedule has no runs to catch up.
    """
    entry = (
        PeriodicTask.objects.select_related("crontab", "interval")
        .filter(task=task, enabled=True)
        .order_by("pk")
        .first()
    )
    if entry is None or until <= since:
        return []
    if entry.crontab is not None:
        return _crontab_runs(entry.crontab.schedule, since=since, until=until)
    if entry.interval is not None:
        step = max(timedelta(seconds=entry.interval.schedule.run_every.total_seconds()), INTERVAL_STEP_FLOOR)
        runs = []
        moment = until
        while moment > since:
            runs.append(moment)
            moment -= step
        return runs[::-1]
    return []


def _crontab_runs(schedule, *, since: datetime, until: datetime) -> list[datetime]:
    zone = schedule.tz
    runs = []
    day = since.astimezone(zone).date()
    while day <= until.astimezone(zone).date():
        if (
            day.month in schedule.month_of_year
            and day.day in schedule.day_of_month
            and day.isoweekday() % 7 in schedule.day_of_week
        ):
            for hour in sorted(schedule.hour):
                for minute in sorted(schedule.minute):
                    moment = datetime.combine(day, time(hour, minute), tzinfo=zone)
                    if since < moment <= until:
                        runs.append(moment)
        day += timedelta(days=1)
    return runs


def installed_at(app_label: str) -> datetime | None:
    """When `app_label` began keeping data here (its first migration was applied): the
    catch-ups of a fresh installation start there, never in its past."""
    from django.db.migrations.recorder import MigrationRecorder

    return (
        MigrationRecorder.Migration.objects.filter(app=app_label)
        .order_by("applied")
        .values_list("applied", flat=True)
        .first()
    )
