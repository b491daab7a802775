"""Report writes: ask for a build, build and store it, e-mail managers, sweep up strays, prune."""

import contextlib
import hashlib
import logging
import os
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from core import jobs
from core.exceptions import ApplicationError
from core.queue import enqueue_on_commit
from core.schedules import installed_at, job_runs
from notifications.services import email_enqueue
from reports.models import Report, ReportKind, ReportStatus
from reports.selectors import ModelVersionCount, weekly_counts
from reports.tasks import report_build_task
from reports.workbook import local_text, weekly_workbook_write

logger = logging.getLogger(__name__)

WEEK = timedelta(days=7)
MAX_PERIOD = timedelta(days=366)
TEMP_PREFIX = ".tmp-"
SWEEP_LIMIT = 100


# --- periods and names ----------------------------------------------------------------
def nightly_period(*, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The 7 full days (factory time) before the last midnight: [midnight - 7 days, midnight)."""
    today = timezone.localtime(now or timezone.now()).date()
    zone = timezone.get_current_timezone()
    # Built from dates, not by subtracting hours, so a DST change inside the week is right.
    return (
        datetime.combine(today - WEEK, clock.min, tzinfo=zone),
        datetime.combine(today, clock.min, tzinfo=zone),
    )


def last_week_period(*, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last 7 days up to now (the on-demand report)."""
    until = (now or timezone.now()).replace(microsecond=0)
    return until - WEEK, until


def report_file_name(*, since: datetime, until: datetime) -> str:
    """A dated name: whole days as dates (the last one included), other periods to the minute."""
    start, end = timezone.localtime(since), timezone.localtime(until)
    if start.time() == clock.min and end.time() == clock.min:
        return f"weekly-report_{start:%Y-%m-%d}_{end.date() - timedelta(days=1):%Y-%m-%d}.xlsx"
    return f"weekly-report_{start:%Y-%m-%d_%H-%M}_{end:%Y-%m-%d_%H-%M}.xlsx"


def report_period_check(*, since: datetime, until: datetime) -> None:
    errors = {}
    if until <= since:
        errors["until"] = ["Must be after `since`."]
    elif until - since > MAX_PERIOD:
        errors["since"] = [f"A report covers at most {MAX_PERIOD.days} days."]
    if until > timezone.now() + timedelta(seconds=settings.ROBOT_CLOCK_SKEW):
        errors["until"] = ["May not lie in the future: the period would be incomplete."]
    if errors:
        raise ApplicationError("The period was rejected; see `fields`.", code="invalid", fields=errors)


# --- asking for reports -----------------------------------------------------------------
def report_request(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    requested_by=None,
    email_managers: bool = False,
) -> Report:
    """Records an on-demand report (the last 7 days up to now unless told) and builds it after commit."""
    if since is None and until is None:
        since, until = last_week_period()
    elif since is None:
        since = until - WEEK
    elif until is None:
        until = min(since + WEEK, timezone.now().replace(microsecond=0))
    report_period_check(since=since, until=until)
    report = Report(
        kind=ReportKind.ON_DEMAND,
        period_start=since,
        period_end=until,
        requested_by=requested_by,
        email_managers=email_managers,
        file_name=report_file_name(since=since, until=until),
    )
    report.full_clean()
    with transaction.atomic():
        report.save()
        enqueue_on_commit(report_build_task, report.pk)
    logger.info("report %s requested for %s – %s", report.pk, since.isoformat(), until.isoformat())
    return report


NIGHTLY_TASK = "reports.tasks.nightly_report_request_task"


def nightly_report_request(*, now: datetime | None = None) -> Report:
    """The nightly job: one report per period however often it runs, e-mailed to managers."""
    since, until = nightly_period(now=now)
    return _nightly_report_for(since=since, until=until)


def _nightly_report_for(*, since: datetime, until: datetime) -> Report:
    """The nightly report of [since, until), recorded (and built after commit) unless it exists."""
    existing = Report.objects.filter(kind=ReportKind.NIGHTLY, period_start=since, period_end=until).first()
    if existing is not None:
        logger.info("report %s: the nightly report for this period exists (%s)", existing.pk, existing.status)
        return existing
    report = Report(
        kind=ReportKind.NIGHTLY,
        period_start=since,
        period_end=until,
        email_managers=True,
        file_name=report_file_name(since=since, until=until),
    )
    try:
        with transaction.atomic():
            report.save()
            enqueue_on_commit(report_build_task, report.pk)
    except IntegrityError:  # another run recorded it concurrently
        return Report.objects.get(kind=ReportKind.NIGHTLY, period_start=since, period_end=until)
    logger.info("report %s: nightly report requested for %s – %s", report.pk, since.isoformat(), until.isoformat())
    return report


def nightly_reports_catch_up(*, now: datetime) -> list[Report]:
    """Asks for every nightly report beat missed: one per period of the nightly job's runs
    due by `now` (core.schedules.job_runs) whose period ends after the newest stored nightly
    report, at most REPORTS_CATCHUP_DAYS back; with no nightly report stored yet, only runs
    after the installation count (a fresh installation builds nothing for its past).

    Returns the reports it recorded, oldest first. Idempotent: the database keeps one
    nightly report per period (`report_one_nightly_per_period`), so two beats or two workers
    running this at once record each report once, and each is e-mailed once.
    """
    days = settings.REPORTS_CATCHUP_DAYS
    if days <= 0:
        return []
    runs = job_runs(task=NIGHTLY_TASK, since=now - timedelta(days=days), until=now)
    newest = (
        Report.objects.filter(kind=ReportKind.NIGHTLY).order_by("-period_end").values_list("period_end", flat=True)
    ).first()
    if newest is None:
        installed = installed_at("reports")
        runs = [run for run in runs if installed is None or run > installed]
    periods = sorted({nightly_period(now=run) for run in runs})
    missing = [(since, until) for since, until in periods if newest is None or until > newest]
    if not missing:
        logger.debug("nightly reports: none missed (newest ends %s)", newest)
        return []
    recorded = []
    for since, until in missing:
        report = _nightly_report_for(since=since, until=until)
        logger.info("report %s: caught up the missed nightly report for %s – %s", report.pk, since, until)
        recorded.append(report)
    return recorded


# --- building -------------------------------------------------------------------------
def report_path(report: Report) -> Path:
    return Path(settings.REPORTS_DIR) / report.file_path


def _write_atomically(report: Report) -> tuple[str, int, str, list[ModelVersionCount]]:
    """Writes the workbook beside its final place, syncs it, then renames it into place, so a
    reader (nginx, the mailer) sees the whole file or none. Returns path, size, sha256, counts.

    Each report has a directory of its own, so the file keeps its dated name as an e-mail
    attachment and as a download.
    """
    directory = Path(settings.REPORTS_DIR) / str(report.pk)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)  # nginx's workers must be able to enter it
    counts = weekly_counts(since=report.period_start, until=report.period_end)
    relative = f"{report.pk}/{report.file_name}"
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=".xlsx")
    try:
        with os.fdopen(descriptor, "w+b") as handle:
            weekly_workbook_write(handle, counts=counts, since=report.period_start, until=report.period_end)
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.seek(0, os.SEEK_END)
            handle.seek(0)
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        os.chmod(temporary, 0o644)  # nginx's workers serve it; mkstemp makes files private
        os.replace(temporary, directory / report.file_name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory_descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_descriptor)  # the rename itself survives a crash
    finally:
        os.close(directory_descriptor)
    return relative, size, digest, counts


def report_retry_policy() -> jobs.RetryPolicy:
    return jobs.RetryPolicy(
        max_attempts=settings.REPORTS_MAX_ATTEMPTS,
        base=settings.REPORTS_RETRY_BASE,
        cap=settings.REPORTS_RETRY_MAX_DELAY,
        sweep_grace=settings.REPORTS_SWEEP_GRACE,
    )


def _build(report: Report) -> list[str]:
    """The work of a report job: write and store the workbook, then queue the managers' e-mail."""
    started = time.perf_counter()
    relative, size, digest, counts = _write_atomically(report)
    report.file_path = relative
    report.size = size
    report.sha256 = digest
    report.robots = sum(row.count for row in counts)
    report.build_seconds = round(time.perf_counter() - started, 4)
    report.finished_at = timezone.now()
    logger.info("report %s ready: %s robots, %s bytes in %.3fs", report.pk, report.robots, size, report.build_seconds)
    if report.email_managers:
        report_email_managers(report=report, counts=counts)
    return ["file_path", "size", "sha256", "robots", "build_seconds", "finished_at"]


def _finished(report: Report) -> list[str]:
    report.finished_at = timezone.now()
    return ["finished_at"]


def report_build(*, report_id: int) -> float | None:
    """Builds one due pending report unless another worker is; returns the seconds until a retry, if due.

    The row stays locked while the file is written; a crash before the commit leaves it
    pending, and the rebuild overwrites the same file name.
    """
    return jobs.job_run(Report, job_id=report_id, policy=report_retry_policy(), work=_build, on_final_failure=_finished)


def report_email_managers(*, report: Report, counts: list[ModelVersionCount]) -> None:
    """Queues the e-mail with the file attached; asking twice for one report sends one."""
    recipients = list(settings.MANAGER_EMAILS)
    if not recipients:
        logger.warning("report %s: MANAGER_EMAILS is empty, nobody to e-mail it to", report.pk)
        return
    totals: dict[str, int] = {}
    for row in counts:
        totals[row.model] = totals.get(row.model, 0) + row.count
    context = {
        "report": report,
        "since": local_text(report.period_start),
        "until": local_text(report.period_end),
        "time_zone": settings.TIME_ZONE,
        "totals": sorted(totals.items()),
        "total": report.robots,
        "download_path": f"/api/v1/reports/{report.pk}/download/",
    }
    email_enqueue(
        to=recipients,
        subject=render_to_string("reports/weekly_email.subject.txt", context).strip(),
        body_text=render_to_string("reports/weekly_email.txt", context),
        attachment_path=str(report_path(report)),
        dedup_key=f"report:{report.pk}:managers",
    )


def report_retry(*, report: Report) -> bool:
    """An admin builds a failed report again, with a fresh set of attempts."""
    return jobs.job_retry(Report, job_id=report.pk, task=report_build_task, reset={"finished_at": None})


# --- housekeeping -----------------------------------------------------------------------
def reports_sweep(*, grace_seconds: int | None = None) -> int:
    """Re-enqueues pending reports overdue by more than REPORTS_SWEEP_GRACE; returns how many."""
    grace = report_retry_policy().sweep_grace if grace_seconds is None else grace_seconds
    return len(jobs.jobs_sweep(Report, grace_seconds=grace, enqueue=report_build_task.delay, limit=SWEEP_LIMIT))


def reports_prune(*, now: datetime | None = None) -> int:
    """Deletes the files of reports older than REPORTS_RETENTION_DAYS (0 keeps them forever),
    keeping their rows as history, and leftovers of interrupted builds; returns files deleted."""
    days = settings.REPORTS_RETENTION_DAYS
    if days <= 0:
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    pruned = 0
    for report in Report.objects.filter(status=ReportStatus.READY, finished_at__lt=cutoff).order_by("pk"):
        with transaction.atomic():
            locked = Report.objects.select_for_update(skip_locked=True).filter(pk=report.pk).first()
            if locked is None or locked.status != ReportStatus.READY:
                continue
            path = report_path(locked)
            path.unlink(missing_ok=True)
            if path.parent != Path(settings.REPORTS_DIR):
                with contextlib.suppress(OSError):  # gone already, or holds something else: leave it
                    path.parent.rmdir()
            locked.status = ReportStatus.EXPIRED
            locked.pruned_at = now
            locked.save(update_fields=["status", "pruned_at", "updated_at"])
            logger.info("report %s pruned (%s)", locked.pk, locked.file_path)
            pruned += 1
    directory = Path(settings.REPORTS_DIR)
    if directory.is_dir():
        stale = now.timestamp() - 24 * 3600  # a build in progress is minutes old at most
        for leftover in [*directory.glob(f"{TEMP_PREFIX}*"), *directory.glob(f"*/{TEMP_PREFIX}*")]:
            try:
                if leftover.stat().st_mtime < stale:
                    leftover.unlink()
            except FileNotFoundError:
                pass
    return pruned
