"""The daily statistics e-mail to MANAGER_EMAILS, through the notifications outbox."""

import logging
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone

from mailings.models import Mailing, Message, MessageStatus
from mailings.selectors import message_count_annotations, message_counts

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


@transaction.atomic
def mailings_daily_stats_email(*, day: date | None = None):
    """E-mails the statistics of `day` (yesterday by default) to MANAGER_EMAILS, once per day
    (the outbox's dedup key makes a second run a no-op); None when nobody is to receive it."""
    from notifications.services import email_enqueue

    if not settings.MANAGER_EMAILS:
        logger.info("mailings daily statistics: MANAGER_EMAILS is empty, nothing sent")
        return None
    day = day or timezone.localdate() - timedelta(days=1)
    context = daily_stats(day=day)
    email = email_enqueue(
        to=list(settings.MANAGER_EMAILS),
        subject=render_to_string("mailings/daily_stats.subject.txt", context).strip(),
        body_text=render_to_string("mailings/daily_stats.txt", context),
        body_html=render_to_string("mailings/daily_stats.html", context),
        dedup_key=f"mailings-daily-stats:{day.isoformat()}",
    )
    logger.info("mailings daily statistics for %s: e-mail %s", day, email.pk)
    return email
