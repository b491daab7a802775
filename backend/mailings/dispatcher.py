"""The dispatcher: starts mailings, sends their messages in claimed chunks, and the beat tick.

Work is rows in PostgreSQL. A sender claims a chunk of due pending messages with
`SELECT ... FOR UPDATE SKIP LOCKED`, so any number of workers share a mailing without
sending a message twice, keeps the rows locked while the gateway answers, and records
every outcome in a few set-based UPDATEs in the same transaction. A worker that dies
mid-chunk rolls its transaction back: the chunk is pending again and is resent with the
same ids (which the gateway contract makes safe). Nothing recorded as sent is sent again.
"""

from __future__ import annotations

import logging
import time as clock
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.queue import enqueue_on_commit
from customers.timezones import tzinfo_for
from mailings import gateway as gateway_client
from mailings.models import Mailing, MailingStatus, MessageStatus
from mailings.services import messages_close

logger = logging.getLogger(__name__)

# A sender whose chunk is empty looks again this soon when retries are about to fall due;
# anything further away is left to the beat tick.
SHORT_WAIT = 10.0


def _log(mailing_id: int, text: str, *args) -> None:
    logger.info("mailing %s: " + text, mailing_id, *args, extra={"mailing_id": mailing_id})


def in_window(now: datetime, zone: str, start: time, end: time) -> bool:
    """Whether `now` is inside [start, end) of the local time in `zone`; a window may wrap midnight."""
    local = now.astimezone(tzinfo_for(zone)).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def open_zones(mailing: Mailing, now: datetime) -> list[str] | None:
    """The time zones of the mailing's pending messages whose window is open now (None: no window)."""
    if not mailing.has_window:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT timezone FROM mailings_message WHERE mailing_id = %s AND status = 'pending'",
            [mailing.pk],
        )
        zones = [row[0] for row in cursor.fetchall()]
    return [zone for zone in zones if in_window(now, zone, mailing.send_window_start, mailing.send_window_end)]


# --- start ----------------------------------------------------------------------------
def mailing_start(*, mailing_id: int) -> int:
    """Starts a scheduled mailing whose time has come: one message per matching customer
    with a phone, in one INSERT ... SELECT; returns how many. Idempotent."""
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().filter(pk=mailing_id).first()
        now = timezone.now()
        if mailing is None or mailing.status != MailingStatus.SCHEDULED or mailing.start_at > now:
            return 0
        # A mailing that was never started before its end (the platform was down): its
        # recipients are recorded as expired, so the statistics say who was missed.
        too_late = mailing.end_at <= now
        conditions = ["c.phone_number IS NOT NULL"]
        params: list = [
            mailing.pk,
            MessageStatus.EXPIRED if too_late else MessageStatus.PENDING,
            now,
        ]
        if mailing.filter_operator_code:
            conditions.append("c.operator_code = %s")
            params.append(mailing.filter_operator_code)
        if mailing.filter_tag:
            conditions.append("c.tag = %s")
            params.append(mailing.filter_tag)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO mailings_message
                    (mailing_id, customer_id, phone_number, timezone, status, attempts, last_error,
                     next_attempt_at, created_at, updated_at)
                SELECT %s, c.id, c.phone_number, c.timezone, %s, 0, '', %s, now(), now()
                FROM customers_customer c
                WHERE {" AND ".join(conditions)}
                ON CONFLICT (mailing_id, customer_id) DO NOTHING
                """,  # noqa: S608 (fixed fragments, values are parameters)
                params,
            )
            created = cursor.rowcount
        mailing.started_at = now
        mailing.dispatched_at = now
        mailing.status = MailingStatus.FINISHED if too_late or created == 0 else MailingStatus.RUNNING
        if mailing.status == MailingStatus.FINISHED:
            mailing.finished_at = now
        mailing.save(update_fields=["status", "started_at", "dispatched_at", "finished_at", "updated_at"])
        _log(mailing.pk, "started, %d messages (%s)", created, mailing.status)
        if mailing.status == MailingStatus.RUNNING:
            senders_enqueue(mailing_id=mailing.pk)
    return created


def senders_enqueue(*, mailing_id: int) -> None:
    """Wakes MAILING_SENDERS senders for the mailing after the commit; each one keeps
    re-enqueueing itself while it finds work, so a mailing costs one broker message per chunk."""
    from mailings.tasks import mailing_send_task

    for _ in range(settings.MAILING_SENDERS):
        enqueue_on_commit(mailing_send_task, mailing_id)


# --- send -----------------------------------------------------------------------------
@dataclass
class ChunkResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    again_in: float | None = None  # when this sender should look again; None: leave it to the tick


def mailing_send_chunk(*, mailing_id: int, chunk_size: int | None = None) -> ChunkResult:
    """Claims up to `chunk_size` due pending messages, sends them, records the outcomes."""
    chunk_size = chunk_size or settings.MAILING_CHUNK_SIZE
    client = gateway_client.gateway()
    result = ChunkResult()
    if client.breaker.is_open and client.breaker.remaining() > 0:
        result.again_in = client.breaker.remaining()
        return result
    held = client.held_until()
    if held:  # the gateway asked every worker to wait (Retry-After): claim nothing until then
        result.again_in = max(0.0, held - clock.time())
        return result
    mailing = Mailing.objects.filter(pk=mailing_id).first()
    now = timezone.now()
    if mailing is None or mailing.status != MailingStatus.RUNNING or mailing.end_at <= now:
        return result
    zones = open_zones(mailing, now)
    if zones == []:
        return result  # every pending recipient is outside the window now: the tick wakes us
    with transaction.atomic():
        rows = _claim(mailing_id, now, zones, chunk_size)
        result.claimed = len(rows)
        if rows:
            messages = [
                gateway_client.OutgoingMessage(id=row[0], phone_number=row[1], text=mailing.text, mailing_id=mailing_id)
                for row in rows
            ]
            started = clock.monotonic()
            outcomes = client.send_many(messages, deadline=mailing.end_at.timestamp())
            _record(outcomes, result)
            Mailing.objects.filter(pk=mailing_id).update(dispatched_at=timezone.now())
            _log(
                mailing_id,
                "chunk of %d in %.2fs: %d sent, %d retry, %d failed, %d deferred",
                len(rows),
                clock.monotonic() - started,
                result.sent,
                result.retried,
                result.failed,
                result.deferred,
            )
    if result.claimed:
        mailing_finish_if_done(mailing_id=mailing_id)
        result.again_in = 0 if result.claimed == chunk_size or result.sent else _next_due_in(mailing_id, zones)
    else:
        result.again_in = _next_due_in(mailing_id, zones)
    if client.breaker.is_open:
        result.again_in = max(result.again_in or 0, client.breaker.remaining())
    held = client.held_until()
    if held and result.claimed:  # wake up when the gateway's pause ends, not a tick later
        result.again_in = max(result.again_in or 0, held - clock.time())
    return result


def _claim(mailing_id: int, now: datetime, zones: list[str] | None, limit: int) -> list[tuple[int, str]]:
    zone_condition = "AND timezone = ANY(%s)" if zones is not None else ""
    params: list = [mailing_id, now]
    if zones is not None:
        params.append(zones)
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT id, phone_number FROM mailings_message
            WHERE mailing_id = %s AND status = 'pending' AND next_attempt_at <= %s {zone_condition}
            ORDER BY next_attempt_at
            LIMIT %s
            FOR UPDATE SKIP LOCKED
            """,  # noqa: S608 (fixed fragments, values are parameters)
            params,
        )
        return cursor.fetchall()


def _record(outcomes: list[gateway_client.Outcome], result: ChunkResult) -> None:
    """Every outcome of a chunk in a handful of UPDATEs, grouped by what they write."""
    sent: list[int] = []
    failed: dict[str, list[int]] = defaultdict(list)
    retry: dict[tuple[str, float | None], list[int]] = defaultdict(list)
    deferred: dict[tuple[str, float], list[int]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.result == gateway_client.SENT:
            sent.append(outcome.message_id)
        elif outcome.result == gateway_client.FAILED:
            failed[outcome.error].append(outcome.message_id)
        elif outcome.result == gateway_client.RETRY:
            retry[(outcome.error, outcome.retry_at)].append(outcome.message_id)
        else:
            deferred[(outcome.error, outcome.retry_at or clock.time())].append(outcome.message_id)
    result.sent = len(sent)
    result.failed = sum(map(len, failed.values()))
    result.retried = sum(map(len, retry.values()))
    result.deferred = sum(map(len, deferred.values()))
    with connection.cursor() as cursor:
        if sent:
            # clock_timestamp(): when the answer is recorded; now() would be the claim's time.
            cursor.execute(
                """UPDATE mailings_message SET status = 'sent', sent_at = clock_timestamp(), attempts = attempts + 1,
                   last_error = '', updated_at = now() WHERE id = ANY(%s)""",
                [sent],
            )
        for error, ids in failed.items():
            cursor.execute(
                """UPDATE mailings_message SET status = 'failed', attempts = attempts + 1, last_error = %s,
                   updated_at = now() WHERE id = ANY(%s)""",
                [error[:500], ids],
            )
        for (error, retry_at), ids in retry.items():
            # Exponential back-off with jitter (half to full delay), per message, in SQL; never
            # before the moment a Retry-After asked for (greatest() ignores a NULL).
            cursor.execute(
                """UPDATE mailings_message SET attempts = attempts + 1, last_error = %s, updated_at = now(),
                   next_attempt_at = greatest(now() + make_interval(
                       secs => least(%s, %s * power(2, least(attempts, 30))) * (0.5 + random() / 2)),
                       to_timestamp(%s))
                   WHERE id = ANY(%s)""",
                [error[:500], settings.MAILING_RETRY_MAX_SECONDS, settings.MAILING_RETRY_BASE_SECONDS, retry_at, ids],
            )
        for (error, retry_at), ids in deferred.items():
            # No call was made: what the gateway last answered stays the message's last_error
            # (an expired message says why it was never sent); the reason is kept otherwise.
            cursor.execute(
                """UPDATE mailings_message SET next_attempt_at = to_timestamp(%s), updated_at = now(),
                   last_error = CASE WHEN attempts > 0 AND last_error <> '' THEN last_error ELSE %s END
                   WHERE id = ANY(%s)""",
                [retry_at, error[:500], ids],
            )


def _next_due_in(mailing_id: int, zones: list[str] | None) -> float | None:
    """Seconds until this mailing's next pending message falls due, if soon; None otherwise."""
    zone_condition = "AND timezone = ANY(%s)" if zones is not None else ""
    params: list = [mailing_id] + ([zones] if zones is not None else [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT min(next_attempt_at) FROM mailings_message
                WHERE mailing_id = %s AND status = 'pending' {zone_condition}""",  # noqa: S608
            params,
        )
        (due,) = cursor.fetchone()
    if due is None:
        return None
    wait = max(0.0, (due - timezone.now()).total_seconds())
    return wait if wait <= SHORT_WAIT else None


def mailing_finish_if_done(*, mailing_id: int) -> bool:
    """A running mailing with nothing pending is finished."""
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE mailings_mailing SET status = 'finished', finished_at = now(), updated_at = now()
               WHERE id = %s AND status = 'running'
               AND NOT EXISTS (SELECT 1 FROM mailings_message WHERE mailing_id = %s AND status = 'pending')""",
            [mailing_id, mailing_id],
        )
        finished = cursor.rowcount == 1
    if finished:
        _log(mailing_id, "finished")
    return finished


# --- the beat tick --------------------------------------------------------------------
@dataclass
class TickResult:
    started: int = 0
    expired: int = 0
    cancelled: int = 0
    finished: int = 0
    swept: int = 0


def mailings_tick() -> TickResult:
    """What beat runs every few seconds: starts due mailings, expires messages past their
    mailing's end, stops leftovers of cancelled ones, finishes mailings with nothing
    pending, and wakes senders for running mailings that have due work but no sender."""
    result = TickResult()
    now = timezone.now()
    due = Mailing.objects.filter(status=MailingStatus.SCHEDULED, start_at__lte=now, deleted_at__isnull=True)
    for mailing_id in due.values_list("pk", flat=True):
        mailing_start(mailing_id=mailing_id)
        result.started += 1
    with transaction.atomic():
        result.expired = messages_close(status=MessageStatus.EXPIRED, ended_before=now)
    with transaction.atomic():
        result.cancelled = messages_close(status=MessageStatus.CANCELLED)
    if result.expired:
        logger.info("tick: %d messages expired at their mailing's end", result.expired)
    if result.cancelled:
        logger.info("tick: %d messages of cancelled mailings stopped", result.cancelled)
    for mailing_id in Mailing.objects.filter(status=MailingStatus.RUNNING).values_list("pk", flat=True):
        if mailing_finish_if_done(mailing_id=mailing_id):
            result.finished += 1
    stale_before = now - timedelta(seconds=settings.MAILING_STALL_SECONDS)
    idle = Mailing.objects.filter(status=MailingStatus.RUNNING, end_at__gt=now, dispatched_at__lt=stale_before)
    if idle.exists() and gateway_client.gateway().held_until():
        return result  # the gateway asked for a pause (Retry-After): the senders sleep until it ends
    for mailing in idle:
        if _has_due_work(mailing, now):
            with transaction.atomic():
                Mailing.objects.filter(pk=mailing.pk).update(dispatched_at=now)
                senders_enqueue(mailing_id=mailing.pk)
            _log(mailing.pk, "senders woken (due work, no sender for %ss)", settings.MAILING_STALL_SECONDS)
            result.swept += 1
    return result


def _has_due_work(mailing: Mailing, now: datetime) -> bool:
    zones = open_zones(mailing, now)
    if zones == []:
        return False
    zone_condition = "AND timezone = ANY(%s)" if zones is not None else ""
    params: list = [mailing.pk, now] + ([zones] if zones is not None else [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT EXISTS (SELECT 1 FROM mailings_message WHERE mailing_id = %s AND status = 'pending'
                AND next_attempt_at <= %s {zone_condition})""",  # noqa: S608
            params,
        )
        return cursor.fetchone()[0]
