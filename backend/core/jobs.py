"""A row is a job (DESIGN.md §3): the lifecycle every piece of background work shares, written once.

An e-mail, a report, an SMS message is a row before it is a Celery message. It is `pending`
until its work is done, then in its model's own done state (`sent`, `ready`), or `failed`
for good once its attempts are used up. What this module holds:

- `Job`, the abstract model: status, attempts, next_attempt_at, last_error, timestamps;
- `job_run`: claims one due pending row with `SELECT ... FOR UPDATE SKIP LOCKED` (a second
  worker skips it), counts the attempt, does the app's work, records the outcome: done, a
  retry after a back-off, or the final failure;
- `backoff_delay` and `backoff_delay_expression`: the one back-off formula, in Python and as
  a SQL expression for set-based updates (SMS messages), from the same constants;
- `jobs_sweep`: re-enqueues pending rows whose wake-up was lost (broker outage, crashed worker);
- `job_retry`: an admin gives a failed row a fresh set of attempts (core.admin.JobAdmin).

Each app says only what doing the work means (notifications: send the e-mail; reports:
build and store the workbook).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, TypeVar

from django.db import models, transaction
from django.db.models import DurationField, Expression, Func, Value
from django.db.models.functions import Greatest, Least, Power, Random
from django.utils import timezone

from core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

# The states every job passes through; each job model's status choices hold both.
PENDING = "pending"
FAILED = "failed"

# 2**30 times the base is beyond any cap: the exponent stops growing there (no float overflow).
MAX_DOUBLINGS = 30
ERROR_MAX_LENGTH = 2000


class Job(models.Model):
    """One piece of background work, kept as a row (abstract).

    A concrete job declares `status` with its own TextChoices (holding PENDING and FAILED)
    and names its success state in `DONE`.
    """

    DONE: ClassVar[str]

    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


J = TypeVar("J", bound=Job)


@dataclass(frozen=True)
class RetryPolicy:
    """How a kind of job is retried: seconds, read from its settings."""

    max_attempts: int
    base: float  # the longest wait after the first failed attempt
    cap: float  # the longest wait ever
    sweep_grace: float = 60  # how overdue a pending row must be before the sweeper re-enqueues it


# --- the one back-off formula ----------------------------------------------------------
def backoff_ceiling(attempts: int, *, base: float, cap: float) -> float:
    """The longest wait (seconds) after `attempts` failed tries: base·2^(attempts−1), at most `cap`."""
    doublings = min(max(attempts, 1) - 1, MAX_DOUBLINGS)
    return min(cap, base * 2**doublings)


def backoff_delay(
    attempts: int, *, base: float, cap: float, random_fraction: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try after `attempts` failed ones: exponential, capped, with jitter
    over the upper half of the ceiling, so a crowd of failures does not retry in step
    (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015: "equal jitter")."""
    return backoff_ceiling(attempts, base=base, cap=cap) * (0.5 + random_fraction() / 2)


def backoff_delay_expression(attempts: Expression, *, base: float, cap: float) -> Expression:
    """`backoff_delay` as a SQL expression (seconds, double precision), for an UPDATE that
    schedules many rows at once; `attempts` counts the failed tries including this one
    (e.g. `F("attempts") + 1` in the UPDATE that counts it)."""
    doublings = Least(Greatest(attempts, Value(1)) - Value(1), Value(MAX_DOUBLINGS))
    ceiling = Least(Value(float(cap)), Value(float(base)) * Power(Value(2.0), doublings))
    return ceiling * (Value(0.5) + Random() / Value(2.0))


def backoff_interval_expression(attempts: Expression, *, base: float, cap: float) -> Func:
    """`backoff_delay_expression` as an interval, to add to a timestamp."""
    return Func(
        backoff_delay_expression(attempts, base=base, cap=cap),
        template="make_interval(secs => %(expressions)s)",
        output_field=DurationField(),
    )


# --- one attempt ----------------------------------------------------------------------
def job_claim(model: type[J], *, job_id: int, now: datetime) -> J | None:
    """The job, locked, if it is pending and due and no other transaction holds it; else None."""
    return (
        model.objects.select_for_update(skip_locked=True)
        .filter(pk=job_id, status=PENDING, next_attempt_at__lte=now)
        .first()
    )


def job_run(
    model: type[J],
    *,
    job_id: int,
    policy: RetryPolicy,
    work: Callable[[J], Iterable[str]],
    on_final_failure: Callable[[J], Iterable[str]] | None = None,
    clock: Callable[[], datetime] = timezone.now,
) -> float | None:
    """Does the work of one due pending job unless another worker is; returns the seconds until
    its retry, or None (done now, failed for good, not due yet, done already, or in another
    worker's hands).

    `work(job)` does the work and sets the job's own result fields, returning their names; it
    raises to fail the attempt. It runs in a savepoint of the row's transaction, so a query
    that fails inside it cannot poison the row's record of the failure. The row stays locked
    while the work runs; a crash before the commit leaves it pending, for the sweeper.
    `on_final_failure(job)` sets fields of the job's own when its last attempt failed,
    returning their names.
    """
    label = model._meta.model_name
    with transaction.atomic():
        job = job_claim(model, job_id=job_id, now=clock())
        if job is None:
            return None
        job.attempts += 1
        try:
            with transaction.atomic():
                changed = list(work(job))
        except Exception as exc:  # the outside world failed (SMTP, disk, a query): retry or give up
            job.last_error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_LENGTH]
            if job.attempts >= policy.max_attempts:
                job.status = FAILED
                extra = list(on_final_failure(job)) if on_final_failure else []
                job.save(update_fields=["attempts", "last_error", "status", *extra, "updated_at"])
                logger.error("%s %s failed for good after %s attempts: %s", label, job.pk, job.attempts, exc)
                return None
            delay = backoff_delay(job.attempts, base=policy.base, cap=policy.cap)
            job.next_attempt_at = clock() + timedelta(seconds=delay)
            job.save(update_fields=["attempts", "last_error", "next_attempt_at", "updated_at"])
            logger.warning("%s %s attempt %s failed (%s); retry in %.0fs", label, job.pk, job.attempts, exc, delay)
            return delay
        job.status = model.DONE
        job.last_error = ""
        job.save(update_fields=[*changed, "attempts", "status", "last_error", "updated_at"])
        return None


# --- lost wake-ups and second chances ----------------------------------------------------
def jobs_sweep(
    model: type[Job],
    *,
    grace_seconds: float,
    enqueue: Callable[[int], object],
    limit: int,
    now: datetime | None = None,
) -> list[int]:
    """Re-enqueues (at once) up to `limit` pending jobs overdue by more than `grace_seconds`:
    their wake-up was lost (a broker outage, a crashed worker). Returns their ids."""
    overdue_before = (now or timezone.now()) - timedelta(seconds=grace_seconds)
    ids = list(
        model.objects.filter(status=PENDING, next_attempt_at__lte=overdue_before)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for job_id in ids:
        enqueue(job_id)
    if ids:
        logger.info("swept %s overdue %s(s): %s", len(ids), model._meta.model_name, ids)
    return ids


@transaction.atomic
def job_retry(model: type[Job], *, job_id: int, task, reset: dict | None = None) -> bool:
    """Gives a failed job a fresh set of attempts and enqueues `task(job_id)` after the commit;
    `reset` names the job's own fields to clear too. False when the job had not failed."""
    updated = model.objects.filter(pk=job_id, status=FAILED).update(
        status=PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="", **(reset or {})
    )
    if updated:
        enqueue_on_commit(task, job_id)
    return bool(updated)
