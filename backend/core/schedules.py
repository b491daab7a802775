"""Periodic jobs declared in code (config/schedule.py), synced into django-celery-beat."""

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
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
