"""Stored reports: requesting, building atomically, e-mailing managers once, retries, sweep, prune."""

import hashlib
import os
import time
from datetime import timedelta
from email.header import decode_header, make_header
from pathlib import Path

import openpyxl
import pytest
from django.utils import timezone

from core.exceptions import ApplicationError
from notifications.models import Email
from notifications.services import email_deliver
from reports.models import Report, ReportKind, ReportStatus
from reports.services import (
    nightly_period,
    nightly_report_request,
    report_build,
    report_file_name,
    report_path,
    report_request,
    report_retry,
    reports_prune,
    reports_sweep,
)
from reports.tasks import report_build_task
from reports.tests.conftest import local

pytestmark = pytest.mark.django_db

NIGHT = local(2023, 10, 9, 0, 30, 0)  # Monday 00:30 factory time


@pytest.fixture
def managers(settings):
    settings.MANAGER_EMAILS = ["boss@r4c.example", "deputy@r4c.example"]
    return settings.MANAGER_EMAILS


def test_the_nightly_period_is_the_seven_full_days_before_midnight():
    assert nightly_period(now=NIGHT) == (local(2023, 10, 2, 0, 0, 0), local(2023, 10, 9, 0, 0, 0))


def test_the_nightly_period_follows_the_calendar_across_a_dst_change(settings):
    settings.TIME_ZONE = "Europe/Berlin"  # clocks went forward on 2026-03-29

    since, until = nightly_period(now=timezone.make_aware(timezone.datetime(2026, 3, 30, 0, 30)))

    assert (since.isoformat(), until.isoformat()) == ("2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00")
    assert until.timestamp() - since.timestamp() == timedelta(days=7, hours=-1).total_seconds()


def test_file_names_are_dated():
    assert report_file_name(since=local(2023, 10, 2), until=local(2023, 10, 9)) == (
        "weekly-report_2023-10-02_2023-10-08.xlsx"
    )
    assert report_file_name(since=local(2023, 10, 2, 17, 42), until=local(2023, 10, 9, 17, 42)) == (
        "weekly-report_2023-10-02_17-42_2023-10-09_17-42.xlsx"
    )


def test_running_the_nightly_job_twice_makes_one_report_built_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = nightly_report_request(now=NIGHT)
        second = nightly_report_request(now=NIGHT)

    assert first.pk == second.pk
    assert Report.objects.count() == 1
    assert len(callbacks) == 1  # one build enqueued
    assert (first.kind, first.status, first.email_managers) == (ReportKind.NIGHTLY, ReportStatus.PENDING, True)
    assert first.file_name == "weekly-report_2023-10-02_2023-10-08.xlsx"


def test_a_build_writes_the_file_atomically_and_records_it(make_robots, managers, settings):
    make_robots("R2-D2", local(2023, 10, 3, 10, 0, 0), 3)
    report = nightly_report_request(now=NIGHT)

    assert report_build(report_id=report.pk) is None

    report.refresh_from_db()
    path = report_path(report)
    assert report.status == ReportStatus.READY
    assert report.file_path == f"{report.pk}/weekly-report_2023-10-02_2023-10-08.xlsx"
    assert path.parent == Path(settings.REPORTS_DIR) / str(report.pk)
    content = path.read_bytes()
    assert report.size == len(content)
    assert report.sha256 == hashlib.sha256(content).hexdigest()
    assert report.robots == 3
    assert report.attempts == 1
    assert report.build_seconds > 0
    assert report.finished_at is not None
    assert os.stat(path).st_mode & 0o777 == 0o644  # readable by nginx's workers
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    assert openpyxl.load_workbook(path)["R2"]["C2"].value == 3


def test_a_built_report_is_never_built_again(make_robots, managers):
    report = nightly_report_request(now=NIGHT)
    report_build(report_id=report.pk)
    report.refresh_from_db()
    built = (report.sha256, report.finished_at)

    report_build_task(report.pk)  # a redelivered message

    report.refresh_from_db()
    assert (report.sha256, report.finished_at, report.attempts) == (*built, 1)
    assert Email.objects.count() == 1


def test_the_nightly_report_is_e_mailed_to_managers_with_the_file_attached(make_robots, managers, smtp_sink):
    make_robots("R2-D2", local(2023, 10, 3, 10, 0, 0), 3)
    make_robots("C3-PO", local(2023, 10, 4, 10, 0, 0), 2)
    report = nightly_report_request(now=NIGHT)
    report_build(report_id=report.pk)
    report.refresh_from_db()

    [email] = Email.objects.all()
    email_deliver(email_id=email.pk)

    assert email.recipients == managers
    assert email.dedup_key == f"report:{report.pk}:managers"
    [message] = smtp_sink.messages
    assert message["To"] == "boss@r4c.example, deputy@r4c.example"
    assert "02.10.2023 00:00 – 09.10.2023 00:00" in str(make_header(decode_header(message["Subject"])))
    [attachment] = [part for part in message.walk() if part.get_filename()]
    assert attachment.get_filename() == "weekly-report_2023-10-02_2023-10-08.xlsx"
    assert attachment.get_payload(decode=True) == report_path(report).read_bytes()
    body = next(p for p in message.walk() if p.get_content_type() == "text/plain" and not p.get_filename())
    text = body.get_payload(decode=True).decode()
    assert "Всего произведено: 5" in text and "C3: 2" in text and "R2: 3" in text


def test_an_on_demand_report_is_not_e_mailed_unless_asked(managers):
    quiet = report_request(since=local(2023, 10, 2), until=local(2023, 10, 9))
    loud = report_request(since=local(2023, 10, 2), until=local(2023, 10, 9), email_managers=True)

    report_build(report_id=quiet.pk)
    report_build(report_id=loud.pk)

    assert [email.dedup_key for email in Email.objects.all()] == [f"report:{loud.pk}:managers"]


def test_without_manager_addresses_the_report_is_stored_and_nobody_is_e_mailed(settings):
    settings.MANAGER_EMAILS = []
    report = nightly_report_request(now=NIGHT)

    report_build(report_id=report.pk)

    report.refresh_from_db()
    assert report.status == ReportStatus.READY
    assert not Email.objects.exists()


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        (local(2023, 10, 9), local(2023, 10, 2), "until"),
        (None, timezone.now() + timedelta(hours=1), "until"),
        (local(2020, 1, 1), local(2023, 1, 1), "since"),
    ],
)
def test_impossible_periods_are_refused(since, until, field):
    with pytest.raises(ApplicationError) as refused:
        report_request(since=since, until=until)

    assert field in refused.value.fields
    assert not Report.objects.exists()


def test_a_failed_build_is_retried_with_back_off_then_fails_for_good(settings, tmp_path):
    settings.REPORTS_MAX_ATTEMPTS = 2
    settings.REPORTS_DIR = tmp_path / "not-a-directory"
    settings.REPORTS_DIR.write_text("")  # the disk refuses the write
    report = nightly_report_request(now=NIGHT)

    delay = report_build(report_id=report.pk)

    report.refresh_from_db()
    assert report.status == ReportStatus.PENDING
    assert settings.REPORTS_RETRY_BASE / 2 <= delay <= settings.REPORTS_RETRY_BASE
    assert report.next_attempt_at > timezone.now()
    assert "Error" in report.last_error
    Report.objects.filter(pk=report.pk).update(next_attempt_at=timezone.now())

    assert report_build(report_id=report.pk) is None

    report.refresh_from_db()
    assert (report.status, report.attempts) == (ReportStatus.FAILED, 2)


def test_an_admin_retries_a_failed_report(settings, tmp_path):
    report = Report.objects.create(
        kind=ReportKind.ON_DEMAND,
        period_start=local(2023, 10, 2),
        period_end=local(2023, 10, 9),
        file_name="x.xlsx",
        status=ReportStatus.FAILED,
        attempts=3,
        last_error="OSError: disk full",
    )

    assert report_retry(report=report) is True
    report_build(report_id=report.pk)

    report.refresh_from_db()
    assert (report.status, report.attempts, report.last_error) == (ReportStatus.READY, 1, "")


def test_the_sweeper_re_enqueues_only_overdue_pending_reports():
    overdue = report_request(since=local(2023, 10, 2), until=local(2023, 10, 9))
    report_request(since=local(2023, 10, 2), until=local(2023, 10, 9))  # just asked: its message is on the way
    Report.objects.filter(pk=overdue.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))

    assert reports_sweep(grace_seconds=60) == 1


def test_old_files_are_pruned_and_their_rows_kept(settings):
    settings.REPORTS_RETENTION_DAYS = 30
    old = report_request(since=local(2023, 10, 2), until=local(2023, 10, 9))
    recent = report_request(since=local(2023, 10, 2), until=local(2023, 10, 9))
    for report in (old, recent):
        report_build(report_id=report.pk)
    Report.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    leftover = Path(settings.REPORTS_DIR) / ".tmp-crashed.xlsx"
    leftover.write_bytes(b"half a workbook")
    a_day_ago = time.time() - 25 * 3600
    os.utime(leftover, (a_day_ago, a_day_ago))
    old.refresh_from_db()
    recent.refresh_from_db()

    assert reports_prune() == 1

    assert not report_path(old).parent.exists()
    assert report_path(recent).exists()
    assert not leftover.exists()
    old.refresh_from_db()
    assert (old.status, old.pruned_at is not None) == (ReportStatus.EXPIRED, True)


def test_a_retention_of_zero_keeps_every_file(settings):
    settings.REPORTS_RETENTION_DAYS = 0
    report = report_request(since=local(2023, 10, 2), until=local(2023, 10, 9))
    report_build(report_id=report.pk)
    Report.objects.filter(pk=report.pk).update(finished_at=timezone.now() - timedelta(days=3650))

    assert reports_prune() == 0
    assert Report.objects.get().status == ReportStatus.READY
