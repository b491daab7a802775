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
    # Every minute: re-send e-mails whose wake-up was lost (broker outage, crashed worker).
    PeriodicJob(
        name="notifications: sweep overdue e-mails",
        task="notifications.tasks.emails_sweep_task",
        every_seconds=60,
    ),
    # Every 2 seconds: start due mailings, expire messages past end_at, wake stalled senders.
    PeriodicJob(
        name="mailings: tick",
        task="mailings.tasks.mailings_tick_task",
        every_seconds=2,
    ),
    # Daily at 09:00: yesterday's mailing statistics e-mailed to MANAGER_EMAILS (outbox, once a day).
    PeriodicJob(
        name="mailings: daily statistics e-mail",
        task="mailings.tasks.mailings_daily_stats_email_task",
        crontab="0 9 * * *",
    ),
]
