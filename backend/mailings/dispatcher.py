"""The dispatcher: starts mailings, sends their messages in claimed chunks, and the beat tick.

Work is rows in PostgreSQL. A sender claims a chunk of due pending messages with
`SELECT ... FOR UPDATE SKIP LOCKED`, so any number of workers share a mailing without
sending a message twice, keeps the rows locked while the gateway answers, and records
every outcome in a few set-based UPDATEs in the same transaction (messages are jobs:
core.jobs' states and its back-off formula, in SQL). Queries are the ORM's; the one
statement it cannot say (INSERT ... SELECT ... ON CONFLICT) takes its names from the models. A worker that dies
mid-chunk rolls its transaction back: the chunk is pending again and is resent with the
same ids (which the gateway contract makes safe). Nothing recorded as sent is sent again.
"""

from __future__ import annotations

import logging
import time as clock
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Exists, F, Func, Min, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Greatest, Now
from django.utils import timezone

from core.jobs import backoff_interval_expression
from customers.selectors import mailing_recipients
from customers.timezones import tzinfo_for
from mailings import gateway as gateway_client
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.services import messages_close, senders_enqueue

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


def pending_messages(mailing_id: int | OuterRef, zones: list[str] | None = None) -> QuerySet[Message]:
    """The mailing's pending messages; with `zones`, only those of customers in these time zones."""
    queryset = Message.objects.filter(mailing_id=mailing_id, status=MessageStatus.PENDING)
    if zones is not None:
        queryset = queryset.filter(timezone__in=zones)
    return queryset


def open_zones(mailing: Mailing, now: datetime) -> list[str] | None:
    """The time zones of the mailing's pending messages whose window is open now (None: no window)."""
    if not mailing.has_window:
        return None
    zones = pending_messages(mailing.pk).order_by().values_list("timezone", flat=True).distinct()
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
        created = _messages_insert(
            mailing=mailing, status=MessageStatus.EXPIRED if too_late else MessageStatus.PENDING, now=now
        )
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


def _messages_insert(*, mailing: Mailing, status: str, now: datetime) -> int:
    """One message per recipient (customers.selectors.mailing_recipients) in one INSERT ...
    SELECT, skipping customers who have one already; returns how many were made. Every name
    comes from the Message model, every value is a parameter."""
    recipients, recipient_params = mailing_recipients(
        operator_code=mailing.filter_operator_code, tag=mailing.filter_tag
    ).query.sql_with_params()
    quote = connection.ops.quote_name
    fields = Message._meta
    names = ("mailing", "customer", "phone_number", "timezone", "status", "attempts", "last_error")
    names += ("next_attempt_at", "created_at", "updated_at")
    columns = ", ".join(quote(fields.get_field(name).column) for name in names)
    unique = ", ".join(quote(fields.get_field(name).column) for name in ("mailing", "customer"))
    # Names from the models, the recipients' query from the ORM, every value a parameter.
    sql = (
        f"INSERT INTO {quote(fields.db_table)} ({columns}) "  # noqa: S608
        "SELECT %s, recipient.customer_id, recipient.phone_number, recipient.timezone, %s, %s, %s, %s, %s, %s "
        f"FROM ({recipients}) AS recipient (customer_id, phone_number, timezone) "
        f"ON CONFLICT ({unique}) DO NOTHING"
    )
    defaults = [fields.get_field("attempts").get_default(), fields.get_field("last_error").get_default()]
    with connection.cursor() as cursor:
        cursor.execute(sql, [mailing.pk, status, *defaults, now, now, now, *recipient_params])
        return cursor.rowcount


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
            paused = _answers_record(mailing, outcomes)
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
            if paused:
                _log(mailing_id, "paused itself: %s", paused)
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
    """Up to `limit` due pending messages of a running mailing, oldest due first, locked; rows
    another sender holds are skipped. (id, phone number) each."""
    # The mailing's status is read by the claim itself: once a pause (or a cancel) has
    # committed, no sender claims another message, whatever it read before.
    running = Mailing.objects.filter(pk=mailing_id, status=MailingStatus.RUNNING)
    return list(
        pending_messages(mailing_id, zones)
        .filter(Exists(running), next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .select_for_update(skip_locked=True)
        .values_list("id", "phone_number")[:limit]
    )


class ClockTimestamp(Func):
    """PostgreSQL's clock_timestamp(): the moment the statement runs this row, not the transaction's start."""

    template = "clock_timestamp()"
    output_field = DateTimeField()


def _moment(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _record(outcomes: list[gateway_client.Outcome], result: ChunkResult) -> None:
    """Every outcome of a chunk in a handful of UPDATEs, grouped by what they write."""
    sent: list[int] = []
    failed: dict[str, list[int]] = defaultdict(list)
    retry: dict[tuple[str, float | None, bool], list[int]] = defaultdict(list)
    deferred: dict[tuple[str, float], list[int]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.result == gateway_client.SENT:
            sent.append(outcome.message_id)
        elif outcome.result == gateway_client.FAILED:
            failed[outcome.error].append(outcome.message_id)
        elif outcome.result == gateway_client.RETRY:
            retry[(outcome.error, outcome.retry_at, outcome.kind == gateway_client.KIND_MAILING_END)].append(
                outcome.message_id
            )
        else:
            deferred[(outcome.error, outcome.retry_at or clock.time())].append(outcome.message_id)
    result.sent = len(sent)
    result.failed = sum(map(len, failed.values()))
    result.retried = sum(map(len, retry.values()))
    result.deferred = sum(map(len, deferred.values()))
    tried = {"attempts": F("attempts") + 1, "updated_at": Now()}
    if sent:
        # clock_timestamp(): when the answer is recorded; now() would be the claim's time.
        Message.objects.filter(pk__in=sent).update(
            status=MessageStatus.SENT, sent_at=ClockTimestamp(), last_error="", **tried
        )
    for error, ids in failed.items():
        Message.objects.filter(pk__in=ids).update(status=MessageStatus.FAILED, last_error=error[:500], **tried)
    for (error, retry_at, cut_by_end), ids in retry.items():
        # core.jobs' back-off, per message, in SQL; never before the moment a Retry-After
        # asked for (PostgreSQL's greatest() passes over a NULL).
        backoff = backoff_interval_expression(
            F("attempts") + 1, base=settings.MAILING_RETRY_BASE_SECONDS, cap=settings.MAILING_RETRY_MAX_SECONDS
        )
        Message.objects.filter(pk__in=ids).update(
            # A call the mailing's end cut short keeps what the gateway last answered.
            last_error=_gateway_answer_kept(error) if cut_by_end else error[:500],
            next_attempt_at=Greatest(Now() + backoff, Value(_moment(retry_at), output_field=DateTimeField())),
            **tried,
        )
    for (error, retry_at), ids in deferred.items():
        # No call was made: what the gateway last answered stays the message's last_error
        # (an expired message says why it was never sent); the reason is kept otherwise.
        Message.objects.filter(pk__in=ids).update(
            next_attempt_at=_moment(retry_at), updated_at=Now(), last_error=_gateway_answer_kept(error)
        )


def _gateway_answer_kept(error: str) -> Case:
    """The message's last_error when it has one from the gateway, `error` otherwise."""
    return Case(When(Q(attempts__gt=0) & ~Q(last_error=""), then=F("last_error")), default=Value(error[:500]))


def _answers_record(mailing: Mailing, outcomes: list[gateway_client.Outcome]) -> str | None:
    """Notes that a sender worked on the mailing and, when it has an error threshold (its own
    or MAILING_ERROR_THRESHOLD_PERCENT), adds the chunk's gateway answers to its window of the
    last MAILING_ERROR_WINDOW; a running mailing whose window holds at least
    MAILING_ERROR_MIN_ANSWERS answers, that share of them failures, is paused with the
    reason, which is returned (None otherwise).

    One statement per chunk (two with a threshold), in the chunk's transaction: a killed
    worker loses the window's answers with the outcomes they describe. Calls never made
    (deferred) and answers asking for a pause (a Retry-After) are not counted: they say
    nothing about the messages."""
    now = timezone.now()
    threshold = mailing.error_threshold_percent or settings.MAILING_ERROR_THRESHOLD_PERCENT
    answers = "".join(
        "1" if outcome.result == gateway_client.SENT else "0"
        for outcome in outcomes
        if outcome.result != gateway_client.DEFERRED
        and outcome.retry_at is None
        and outcome.kind != gateway_client.KIND_MAILING_END
    )
    this = Mailing.objects.filter(pk=mailing.pk)
    if not threshold or not answers:
        this.update(dispatched_at=now)
        return None
    # The row lock orders the senders of one mailing: each appends to the window it saw last.
    status, window = this.select_for_update().values_list("status", "recent_answers").get()
    window = (window + answers)[-settings.MAILING_ERROR_WINDOW :]
    changes = {"dispatched_at": now, "recent_answers": window}
    failures = window.count("0")
    sample = min(settings.MAILING_ERROR_MIN_ANSWERS, settings.MAILING_ERROR_WINDOW)
    reason = None
    if status == MailingStatus.RUNNING and len(window) >= sample and failures * 100 >= threshold * len(window):
        reason = (
            f"Paused itself: {failures} of the last {len(window)} gateway answers were failures "
            f"({failures * 100 // len(window)}%, threshold {threshold}%)."
        )
        changes |= {"status": MailingStatus.PAUSED, "paused_reason": reason, "updated_at": now}
    this.update(**changes)
    return reason


def _next_due_in(mailing_id: int, zones: list[str] | None) -> float | None:
    """Seconds until this mailing's next pending message falls due, if soon; None otherwise."""
    due = pending_messages(mailing_id, zones).aggregate(due=Min("next_attempt_at"))["due"]
    if due is None:
        return None
    wait = max(0.0, (due - timezone.now()).total_seconds())
    return wait if wait <= SHORT_WAIT else None


def mailing_finish_if_done(*, mailing_id: int) -> bool:
    """A running mailing with nothing pending is finished."""
    finished = (
        Mailing.objects.filter(pk=mailing_id, status=MailingStatus.RUNNING)
        .filter(~Exists(pending_messages(OuterRef("pk"))))
        .update(status=MailingStatus.FINISHED, finished_at=Now(), updated_at=Now())
    ) == 1
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
    """What beat runs every few seconds: closes paused mailings past their end, starts due
    mailings, expires messages past their mailing's end, stops leftovers of cancelled ones,
    finishes mailings with nothing pending, and wakes senders for running mailings that have
    due work but no sender."""
    result = TickResult()
    now = timezone.now()
    # A paused mailing's end still holds: once it has passed, the mailing closes as any other
    # (one that never started records its recipients as expired, the rest expire below).
    ended = Mailing.objects.filter(status=MailingStatus.PAUSED, end_at__lte=now)
    ended.filter(started_at__isnull=False).update(status=MailingStatus.RUNNING, updated_at=now)
    ended.filter(started_at__isnull=True).update(status=MailingStatus.SCHEDULED, updated_at=now)
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
    return pending_messages(mailing.pk, zones).filter(next_attempt_at__lte=now).exists()
