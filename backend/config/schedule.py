"""Every periodic job of R4C, declared once. `manage.py sync_periodic_tasks` (run on each
deploy by backend/bin/release) writes them into django-celery-beat's tables, where admins
can change when they run; the times below are the defaults, in TIME_ZONE."""

from core.schedules import PeriodicJob

PERIODIC_JOBS: list[PeriodicJob] = [
    # Hourly, at minute 17: forget Idempotency-Keys older than IDEMPOTENCY_KEY_TTL.
    PeriodicJob(
        name="core: purge expired idempotency keys",
        task="core.tasks.idempotency_keys_purge_task",
        crontab="17 * * * *",
    ),
    # Every minute: write registration request log entries spooled while PostgreSQL was down
    # (the web processes also replay them on their next request; this catches a quiet service).
    PeriodicJob(
        name="registrations: replay the registration request log spool",
        task="registrations.tasks.registration_request_log_replay_task",
        every_seconds=60,
    ),
    # Every minute: re-send e-mails whose wake-up was lost (broker outage, crashed worker).
    PeriodicJob(
        name="notifications: sweep overdue e-mails",
        task="notifications.tasks.emails_sweep_task",
        every_seconds=60,
    ),
    # Nightly at 00:30 factory time: the weekly report for the 7 full days before midnight,
    # stored under REPORTS_DIR and e-mailed to MANAGER_EMAILS (one report per period).
    # Nights missed while beat was down are caught up by the sweep below.
    PeriodicJob(
        name="reports: nightly weekly report",
        task="reports.tasks.nightly_report_request_task",
        crontab="30 0 * * *",
    ),
    # Every minute: re-enqueue reports still pending after their wake-up was lost, and ask
    # for the nightly reports beat missed (REPORTS_CATCHUP_DAYS).
    PeriodicJob(
        name="reports: sweep pending reports",
        task="reports.tasks.reports_sweep_task",
        every_seconds=60,
    ),
    # Every 30 seconds: re-enqueue customer imports whose wake-up was lost, or whose worker died
    # mid-file (its lease ran out): another worker goes on from the last committed batch.
    PeriodicJob(
        name="customers: sweep imports",
        task="customers.tasks.customer_imports_sweep_task",
        every_seconds=30,
    ),
    # Daily at 03:40: delete report files older than REPORTS_RETENTION_DAYS.
    PeriodicJob(
        name="reports: prune old files",
        task="reports.tasks.reports_prune_task",
        crontab="40 3 * * *",
    ),
    # Every 2 seconds: start due mailings, expire messages past end_at, wake stalled senders,
    # and send the daily statistics e-mails beat missed.
    PeriodicJob(
        name="mailings: tick",
        task="mailings.tasks.mailings_tick_task",
        every_seconds=2,
    ),
    # Daily at 09:00: yesterday's mailing statistics e-mailed to MANAGER_EMAILS (outbox, once a
    # day); days missed while beat was down are caught up by the tick.
    PeriodicJob(
        name="mailings: daily statistics e-mail",
        task="mailings.tasks.mailings_daily_stats_email_task",
        crontab="0 9 * * *",
    ),
]
