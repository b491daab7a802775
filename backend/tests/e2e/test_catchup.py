"""Beat down over the scheduled time: the nightly report and the daily mailing statistics that
it missed are built and e-mailed once it is back, and a second beat started meanwhile changes
nothing. Real processes (workers, beats) and a real SMTP server on loopback.

The scheduled time is the next full minute (an admin's change to the crontab in beat's
tables), so the test waits less than two minutes for it; everything else is waited for on
an observable count (the catch-ups' own log lines)."""

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.conf import settings

from devtools.smtp_sink import MemorySink
from tests.stack import BACKEND_DIR, REPO_DIR, deployed_stack, wait_until

pytestmark = pytest.mark.e2e

MANAGERS = ["boss@r4c.example"]
ZONE = ZoneInfo(settings.TIME_ZONE)


@pytest.fixture(scope="module")
def smtp():
    sink = MemorySink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def stack(smtp):
    extra_env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "3",
        "MANAGER_EMAILS": ",".join(MANAGERS),
        "LOG_LEVEL": "DEBUG",  # the catch-ups say at DEBUG that they found nothing missed
    }
    with deployed_stack(extra_env=extra_env) as stack:
        yield stack


def manage_shell(stack, code: str) -> None:
    """Runs `code` in `manage.py shell` against the stack's database (as an admin would)."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", textwrap.dedent(code)],
        cwd=BACKEND_DIR,
        env=stack.env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def count_in_log(stack, name: str, text: str) -> int:
    return stack.processes[name].log_path.read_text(errors="replace").count(text)


def test_a_night_missed_while_beat_was_down_is_built_and_e_mailed_once(stack, smtp):
    # given: the nightly report and the daily statistics were last made for the day before
    # the scheduled time T, which an admin set to the next full minute, and sweeps every 2 s
    now = datetime.now(ZONE)
    at = (now + timedelta(seconds=80)).replace(second=0, microsecond=0)
    day = at.date()
    manage_shell(
        stack,
        f"""
        from datetime import date, timedelta
        from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks
        from notifications.models import Email, EmailStatus
        from reports.models import Report, ReportKind, ReportStatus
        from reports.services import nightly_period
        from django.utils import timezone
        import datetime as dt

        day = date.fromisoformat("{day.isoformat()}")
        zone = timezone.get_current_timezone()
        since, until = nightly_period(now=dt.datetime.combine(day - timedelta(days=1), dt.time(12), tzinfo=zone))
        Report.objects.create(
            kind=ReportKind.NIGHTLY, period_start=since, period_end=until, status=ReportStatus.EXPIRED,
            file_name="pruned.xlsx",
        )
        Email.objects.create(
            recipients=["boss@r4c.example"], subject="old", body_text="old", status=EmailStatus.SENT,
            dedup_key=f"mailings-daily-stats:{{day - timedelta(days=2)}}",
        )
        crontab = CrontabSchedule.objects.create(
            minute="{at.minute}", hour="{at.hour}", timezone="{settings.TIME_ZONE}"
        )
        PeriodicTask.objects.filter(
            task__in=["reports.tasks.nightly_report_request_task", "mailings.tasks.mailings_daily_stats_email_task"]
        ).update(crontab=crontab)
        every_2s, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.filter(task="reports.tasks.reports_sweep_task").update(interval=every_2s)
        PeriodicTasks.update_changed()
        """,
    )
    stack.start_worker()
    stack.start_worker("mailing-worker", "mailing-worker")
    stack.start_beat()
    wait_until(
        lambda: count_in_log(stack, "worker", "nightly reports: none missed") >= 2,
        timeout=60,
        what=f"the sweeper to find nothing missed before T\n{stack.logs()}",
    )

    # when beat is down over T, then two beats start (it came back, and another was started)
    stack.stop("beat")
    wait_until(lambda: datetime.now(ZONE) > at + timedelta(seconds=1), timeout=120, interval=0.5, what="T to pass")
    assert smtp.messages == []  # beat was down: nothing ran at T
    # Beat must not run the missed jobs itself when it returns: after a real night's downtime
    # django-celery-beat leaves crontab entries more than two hours from the current hour
    # out of its schedule; after this minute's downtime, the same comes from its memory
    # saying that they ran (as when beat sent them into a broker that lost them).
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        remembered = conn.execute(
            "UPDATE django_celery_beat_periodictask SET last_run_at = now() WHERE task = ANY(%s)",
            [["reports.tasks.nightly_report_request_task", "mailings.tasks.mailings_daily_stats_email_task"]],
        ).rowcount
    assert remembered == 2
    second_heartbeat = stack.work_dir / "beat-2-heartbeat"
    stack.extra_env["BEAT_HEARTBEAT_FILE"] = str(second_heartbeat)
    stack.start("beat-2", [str(REPO_DIR / "worker" / "bin" / "beat")])
    del stack.extra_env["BEAT_HEARTBEAT_FILE"]
    stack.start_beat()

    # then the missed report is stored and e-mailed, with the missed statistics
    wait_until(lambda: len(smtp.messages) >= 2, timeout=90, what=f"the caught-up e-mails\n{stack.logs()}")
    # ... and once only, though both beats keep asking: wait for more sweeps and ticks from each
    sweeps = count_in_log(stack, "worker", "nightly reports: none missed")
    ticks = count_in_log(stack, "mailing-worker", "mailings daily statistics: none missed")
    started = datetime.now().timestamp()
    wait_until(
        lambda: (
            second_heartbeat.stat().st_mtime > started
            and (stack.work_dir / "beat-heartbeat").stat().st_mtime > started
            and count_in_log(stack, "worker", "nightly reports: none missed") >= sweeps + 6
            and count_in_log(stack, "mailing-worker", "mailings daily statistics: none missed") >= ticks + 6
        ),
        timeout=60,
        what="both beats to keep the catch-ups running",
    )
    report_mail, stats_mail = sorted(smtp.messages, key=lambda message: "xlsx" not in message.as_string())
    assert len(smtp.messages) == 2
    [attachment] = [part for part in report_mail.walk() if part.get_filename()]
    assert attachment.get_filename() == f"weekly-report_{day - timedelta(days=7)}_{day - timedelta(days=1)}.xlsx"
    assert (day - timedelta(days=1)).isoformat() in stats_mail["Subject"]
    assert count_in_log(stack, "worker", "caught up the missed nightly report") == 1
    assert count_in_log(stack, "mailing-worker", "catching up the missed e-mail of") == 1
