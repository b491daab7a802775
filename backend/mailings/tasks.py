"""Mailing tasks (queue `mailings`): thin, idempotent, by id; the rules are in mailings.dispatcher
and mailings.reports, imported in each task's body."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task
def mailing_start_task(mailing_id: int) -> int:
    from mailings.dispatcher import mailing_start

    return mailing_start(mailing_id=mailing_id)


@shared_task
def mailing_send_task(mailing_id: int) -> int:
    """Sends one chunk, then hands over to a fresh copy of itself while work remains."""
    from mailings.dispatcher import mailing_send_chunk

    result = mailing_send_chunk(mailing_id=mailing_id)
    if result.again_in is not None:
        try:
            mailing_send_task.apply_async((mailing_id,), countdown=result.again_in or None)
        except Exception:  # the broker is away: the tick's sweeper wakes the mailing later
            logger.warning("mailing %s: could not re-enqueue the sender", mailing_id, exc_info=True)
    return result.claimed


@shared_task
def mailings_tick_task() -> dict:
    from mailings.dispatcher import mailings_tick
    from mailings.reports import mailings_daily_stats_catch_up

    result = mailings_tick()
    # Beat's crontab forgets runs missed while it was down: every tick catches them up.
    mailings_daily_stats_catch_up(now=timezone.now())
    return result.__dict__


@shared_task
def mailings_daily_stats_email_task() -> int | None:
    """Yesterday's statistics (factory time)."""
    from mailings.reports import mailings_daily_stats_email

    email = mailings_daily_stats_email(day=timezone.localdate() - timedelta(days=1))
    return email.pk if email else None
