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
- `job_retry`: an admin gives a failed row a fresh set of attempts (core.admin.JobAdmin);
- `job_run_in_steps`: the same lifecycle for long work that commits its progress step by step
  (imports): the row is `running` under a lease while a worker has it, each step commits on
  its own, and after a crash the sweeper hands the row to another worker, which goes on from
  the last committed step.

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
# Only jobs run in steps (job_run_in_steps) show this state: a worker holds the job's lease.
RUNNING = "running"

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


class PermanentJobError(Exception):
    """Raised by a job's work when trying again cannot help (its input is gone or refused):
    the job fails for good at once, whatever attempts it has left."""


# --- one attempt ----------------------------------------------------------------------
def job_claim(model: type[J], *, job_id: int, now: datetime, statuses: Iterable[str] = (PENDING,)) -> J | None:
    """The job, locked, if its status is one of `statuses` (pending unless told), it is due and
    no other transaction holds it; else None."""
    return (
        model.objects.select_for_update(skip_locked=True)
        .filter(pk=job_id, status__in=list(statuses), next_attempt_at__lte=now)
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


# --- long work, committed step by step ------------------------------------------------------
def job_run_in_steps(
    model: type[J],
    *,
    job_id: int,
    policy: RetryPolicy,
    lease_seconds: float,
    steps: Callable[[J], Iterable[Callable[[J], Iterable[str]]]],
    finish: Callable[[J], Iterable[str]] | None = None,
    on_final_failure: Callable[[J], Iterable[str]] | None = None,
    clock: Callable[[], datetime] = timezone.now,
) -> float | None:
    """Does a long job whose progress commits step by step; returns the seconds until its
    retry, or None (done, failed for good, not due, or in another worker's hands).

    The claim turns the job `running` and counts the attempt; `next_attempt_at` is then the
    end of this worker's lease (`lease_seconds`), moved on by every step. `steps(job)`
    yields callables, each doing one step on the job row (locked again, in a transaction of
    its own that also records the step's fields, whose names it returns), so a crash loses
    at most the step it was in. `steps` reads where to go on from the job's own progress
    fields. Once the lease has run out (the worker died, or is stuck) the job is claimable
    again, and the sweeper (`jobs_sweep(..., statuses=(PENDING, RUNNING))`) wakes a worker for
    it; the attempt count is the fence: a worker whose job was taken over stops at its next
    step without writing.

    `finish(job)` sets the job's result fields in the last transaction (status DONE). A step
    or `steps` raising fails the attempt (retried after the back-off, the job `pending` again
    with its progress kept); PermanentJobError fails the job for good at once.
    """
    label = model._meta.model_name
    with transaction.atomic():
        job = job_claim(model, job_id=job_id, now=clock(), statuses=(PENDING, RUNNING))
        if job is None:
            return None
        job.attempts += 1
        job.status = RUNNING
        job.next_attempt_at = clock() + timedelta(seconds=lease_seconds)
        job.save(update_fields=["attempts", "status", "next_attempt_at", "updated_at"])
    fence = job.attempts

    def locked_if_ours() -> J | None:
        current = model.objects.select_for_update().get(pk=job_id)
        if current.status != RUNNING or current.attempts != fence:
            logger.warning("%s %s was taken over by another attempt; attempt %s stops", label, job_id, fence)
            return None
        return current

    try:
        for step in steps(job):
            with transaction.atomic():
                current = locked_if_ours()
                if current is None:
                    return None
                changed = list(step(current))
                current.next_attempt_at = clock() + timedelta(seconds=lease_seconds)
                current.save(update_fields=[*changed, "next_attempt_at", "updated_at"])
        with transaction.atomic():
            current = locked_if_ours()
            if current is None:
                return None
            changed = list(finish(current)) if finish else []
            current.status = model.DONE
            current.last_error = ""
            current.save(update_fields=[*changed, "status", "last_error", "updated_at"])
            return None
    except Exception as exc:  # the step's own transaction rolled back; record the failure
        with transaction.atomic():
            current = locked_if_ours()
            if current is None:
                return None
            current.last_error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_LENGTH]
            if isinstance(exc, PermanentJobError) or current.attempts >= policy.max_attempts:
                current.status = FAILED
                extra = list(on_final_failure(current)) if on_final_failure else []
                current.save(update_fields=["last_error", "status", *extra, "updated_at"])
                logger.error("%s %s failed for good after %s attempts: %s", label, job_id, current.attempts, exc)
                return None
            delay = backoff_delay(current.attempts, base=policy.base, cap=policy.cap)
            current.status = PENDING
            current.next_attempt_at = clock() + timedelta(seconds=delay)
            current.save(update_fields=["last_error", "status", "next_attempt_at", "updated_at"])
            logger.warning("%s %s attempt %s failed (%s); retry in %.0fs", label, job_id, current.attempts, exc, delay)
            return delay


# --- lost wake-ups and second chances ----------------------------------------------------
def jobs_sweep(
    model: type[Job],
    *,
    grace_seconds: float,
    enqueue: Callable[[int], object],
    limit: int,
    now: datetime | None = None,
    statuses: Iterable[str] = (PENDING,),
) -> list[int]:
    """Re-enqueues (at once) up to `limit` jobs in `statuses` (pending unless told) overdue by
    more than `grace_seconds`: their wake-up was lost (a broker outage, a crashed worker); for
    a `running` job, its worker's lease ran out. Returns their ids."""
    overdue_before = (now or timezone.now()) - timedelta(seconds=grace_seconds)
    ids = list(
        model.objects.filter(status__in=list(statuses), next_attempt_at__lte=overdue_before)
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
