"""The daily statistics e-mail to MANAGER_EMAILS, through the notifications outbox."""

import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone

from core.schedules import installed_at, job_runs
from mailings.models import Mailing, Message, MessageStatus
from mailings.selectors import message_count_annotations, message_counts
from notifications.selectors import email_by_dedup_key, email_newest_dedup_key

logger = logging.getLogger(__name__)


def daily_stats(*, day: date) -> dict:
    """The day's figures (factory time): every mailing active that day with its counts by
    status and how many it sent that day, and the totals."""
    zone = timezone.get_default_timezone()
    since = timezone.make_aware(datetime.combine(day, time.min), zone)
    until = since + timedelta(days=1)
    mailings = (
        Mailing.objects.filter(started_at__lt=until)
        .filter(Q(finished_at__isnull=True) | Q(finished_at__gte=since))
        .annotate(
            **message_count_annotations(),
            n_sent_that_day=Count("messages", filter=Q(messages__sent_at__gte=since, messages__sent_at__lt=until)),
        )
        .order_by("start_at", "id")
    )
    rows = [
        {
            "mailing": mailing,
            "counts": {status: getattr(mailing, f"n_{status}") for status in (*MessageStatus.values, "total")},
            "sent_that_day": mailing.n_sent_that_day,
        }
        for mailing in mailings
    ]
    return {
        "day": day,
        "rows": rows,
        "statuses": MessageStatus.values,
        "totals": message_counts(mailings=Mailing.objects.filter(pk__in=[row["mailing"].pk for row in rows])),
        "sent_that_day": Message.objects.filter(sent_at__gte=since, sent_at__lt=until).count(),
        "created_that_day": Mailing.objects.filter(created_at__gte=since, created_at__lt=until).count(),
    }


DAILY_STATS_TASK = "mailings.tasks.mailings_daily_stats_email_task"
DEDUP_PREFIX = "mailings-daily-stats:"


@transaction.atomic
def mailings_daily_stats_email(*, day: date):
    """E-mails the statistics of `day` (factory time) to MANAGER_EMAILS, once per day (the
    outbox's dedup key makes a second run a no-op); None when nobody is to receive it."""
    from notifications.services import email_enqueue

    if not settings.MANAGER_EMAILS:
        logger.info("mailings daily statistics: MANAGER_EMAILS is empty, nothing sent")
        return None
    dedup_key = f"{DEDUP_PREFIX}{day.isoformat()}"
    existing = email_by_dedup_key(dedup_key=dedup_key)
    if existing is not None:
        return existing
    context = daily_stats(day=day)
    email = email_enqueue(
        to=list(settings.MANAGER_EMAILS),
        subject=render_to_string("mailings/daily_stats.subject.txt", context).strip(),
        body_text=render_to_string("mailings/daily_stats.txt", context),
        body_html=render_to_string("mailings/daily_stats.html", context),
        dedup_key=dedup_key,
    )
    logger.info("mailings daily statistics for %s: e-mail %s", day, email.pk)
    return email


def mailings_daily_stats_catch_up(*, now: datetime) -> list:
    """E-mails the statistics of every day whose e-mail beat missed: for each run of the daily
    statistics job due by `now` (core.schedules.job_runs), the day before it, if it comes
    after the newest day already e-mailed, at most REPORTS_CATCHUP_DAYS back; with none
    e-mailed yet, only runs after the installation count.

    Returns the e-mails it recorded, oldest first. Idempotent through the outbox's unique
    dedup key: two beats or two workers running it at once send each day once.
    """
    days = settings.REPORTS_CATCHUP_DAYS
    if days <= 0 or not settings.MANAGER_EMAILS:
        return []
    runs = job_runs(task=DAILY_STATS_TASK, since=now - timedelta(days=days), until=now)
    newest_key = email_newest_dedup_key(prefix=DEDUP_PREFIX)
    newest = date.fromisoformat(newest_key.removeprefix(DEDUP_PREFIX)) if newest_key else None
    if newest is None:
        installed = installed_at("mailings")
        runs = [run for run in runs if installed is None or run > installed]
    wanted = sorted({timezone.localdate(run) - timedelta(days=1) for run in runs})
    missing = [day for day in wanted if newest is None or day > newest]
    if not missing:
        logger.debug("mailings daily statistics: none missed (newest %s)", newest)
        return []
    emails = []
    for day in missing:
        logger.info("mailings daily statistics: catching up the missed e-mail of %s", day)
        emails.append(mailings_daily_stats_email(day=day))
    return emails
