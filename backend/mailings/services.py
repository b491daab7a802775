"""Mailing writes: create, edit, cancel, delete, and the campaign controls (pause, resume,
resend the undelivered). Sending lives in mailings.dispatcher."""

import logging
import re
from datetime import datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from core.exceptions import Conflict
from core.queue import enqueue_on_commit
from core.selectors import get_or_404
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.tasks import mailing_send_task, mailing_start_task

logger = logging.getLogger(__name__)

TEXT_MAX_LENGTH = 1000
_UNSET = object()
# What may change once a mailing runs: when it ends and when it pauses itself (and it may
# be paused or cancelled).
RUNNING_EDITABLE = {"end_at", "error_threshold_percent"}
# A message that was not delivered, which resend-failed gives a new chance.
UNDELIVERED = (MessageStatus.FAILED, MessageStatus.EXPIRED)


def _validate(mailing: Mailing, *, creating: bool) -> None:
    errors: dict[str, list[str]] = {}
    mailing.text = (mailing.text or "").strip()
    if not mailing.text:
        errors["text"] = ["The text may not be empty."]
    elif len(mailing.text) > TEXT_MAX_LENGTH:
        errors["text"] = [f"At most {TEXT_MAX_LENGTH} characters."]
    if mailing.start_at and mailing.end_at and mailing.end_at <= mailing.start_at:
        errors["end_at"] = ["end_at must be after start_at."]
    elif creating and mailing.end_at and mailing.end_at <= timezone.now():
        errors["end_at"] = ["end_at is in the past: this mailing could send nothing."]
    if (mailing.send_window_start is None) != (mailing.send_window_end is None):
        missing = "send_window_end" if mailing.send_window_end is None else "send_window_start"
        errors[missing] = ["Give both ends of the send window, or neither."]
    elif mailing.has_window and mailing.send_window_start == mailing.send_window_end:
        errors["send_window_end"] = ["The send window is empty: its start and end are equal."]
    if mailing.filter_operator_code and not re.fullmatch(r"[0-9]{3}", mailing.filter_operator_code):
        errors["filter_operator_code"] = ["An operator code is 3 digits."]
    if errors:
        raise ValidationError(errors)
    mailing.full_clean()


def _has_started(mailing: Mailing) -> bool:
    """Running, or paused while it ran: its messages exist, so only its end may move."""
    return mailing.status == MailingStatus.RUNNING or (
        mailing.status == MailingStatus.PAUSED and mailing.started_at is not None
    )


def _locked(mailing_id: int) -> Mailing:
    """The mailing (not deleted), its row locked until the commit; Http404 (a 404) otherwise."""
    return get_or_404(Mailing.objects.select_for_update().filter(deleted_at__isnull=True), pk=mailing_id)


def senders_enqueue(*, mailing_id: int) -> None:
    """Wakes MAILING_SENDERS senders for the mailing after the commit; each one keeps
    re-enqueueing itself while it finds work, so a mailing costs one broker message per chunk."""
    for _ in range(settings.MAILING_SENDERS):
        enqueue_on_commit(mailing_send_task, mailing_id)


def _start_if_due(mailing: Mailing) -> None:
    if mailing.status == MailingStatus.SCHEDULED and mailing.start_at <= timezone.now():
        enqueue_on_commit(mailing_start_task, mailing.pk)


@transaction.atomic
def mailing_create(
    *,
    start_at: datetime,
    end_at: datetime,
    text: str,
    filter_operator_code: str = "",
    filter_tag: str = "",
    send_window_start: time | None = None,
    send_window_end: time | None = None,
    error_threshold_percent: int | None = None,
) -> Mailing:
    """A new mailing; one whose start has come is started right after the commit (the beat
    tick starts the others at their time). `error_threshold_percent` (1-100, None: the
    platform's MAILING_ERROR_THRESHOLD_PERCENT) is the share of failed gateway answers at
    which it pauses itself. ValidationError (a 400) names each bad field."""
    mailing = Mailing(
        start_at=start_at,
        end_at=end_at,
        text=text,
        filter_operator_code=(filter_operator_code or "").strip(),
        filter_tag=(filter_tag or "").strip(),
        send_window_start=send_window_start,
        send_window_end=send_window_end,
        error_threshold_percent=error_threshold_percent,
    )
    _validate(mailing, creating=True)
    mailing.save()
    logger.info("mailing %s: created", mailing.pk, extra={"mailing_id": mailing.pk})
    _start_if_due(mailing)
    return mailing


@transaction.atomic
def mailing_update(*, mailing_id: int, **changes) -> Mailing:
    """Edits a mailing. A scheduled one (or one paused before it started) may change
    anything; a running one (or one paused since) only its end and its error threshold; a
    finished or cancelled one nothing (Conflict, a 409)."""
    mailing = _locked(mailing_id)
    changes = {key: value for key, value in changes.items() if getattr(mailing, key) != value}
    if mailing.status in (MailingStatus.FINISHED, MailingStatus.CANCELLED) and changes:
        raise Conflict(f"A {mailing.status} mailing cannot be changed.", code="mailing_closed")
    if _has_started(mailing):
        frozen = sorted(set(changes) - RUNNING_EDITABLE)
        if frozen:
            raise Conflict(
                "A running mailing may only move its end_at (or be cancelled).",
                code="mailing_running",
                fields={name: ["Cannot change while the mailing runs."] for name in frozen},
            )
    for key, value in changes.items():
        if key in ("filter_operator_code", "filter_tag"):
            value = (value or "").strip()
        setattr(mailing, key, value)
    _validate(mailing, creating=False)
    mailing.save()
    if changes:
        logger.info("mailing %s: changed %s", mailing.pk, sorted(changes), extra={"mailing_id": mailing.pk})
    _start_if_due(mailing)
    return mailing


@transaction.atomic
def mailing_cancel(*, mailing_id: int) -> Mailing:
    """Stops a scheduled, running or paused mailing: its pending messages become `cancelled`.

    Messages a sender holds right now are left to it: it records what the gateway said,
    and the beat tick cancels whatever it left pending."""
    mailing = _locked(mailing_id)
    if mailing.status == MailingStatus.CANCELLED:
        return mailing
    if mailing.status == MailingStatus.FINISHED:
        raise Conflict("This mailing has already finished.", code="mailing_closed")
    mailing.status = MailingStatus.CANCELLED
    mailing.finished_at = timezone.now()
    mailing.save(update_fields=["status", "finished_at", "updated_at"])
    cancelled = messages_close(mailing_id=mailing.pk, status=MessageStatus.CANCELLED)
    logger.info("mailing %s: cancelled, %d messages stopped", mailing.pk, cancelled, extra={"mailing_id": mailing.pk})
    return mailing


@transaction.atomic
def mailing_delete(*, mailing_id: int) -> None:
    """Deletes a mailing from the API's view: it is cancelled first (its pending messages
    stop), and kept with its messages, so what was already sent stays on record."""
    mailing = _locked(mailing_id)
    if mailing.status in (MailingStatus.SCHEDULED, MailingStatus.RUNNING, MailingStatus.PAUSED):
        mailing_cancel(mailing_id=mailing.pk)
        mailing.refresh_from_db()
    mailing.deleted_at = timezone.now()
    mailing.save(update_fields=["deleted_at", "updated_at"])
    logger.info("mailing %s: deleted", mailing.pk, extra={"mailing_id": mailing.pk})


# --- campaign controls ------------------------------------------------------------------
PAUSABLE = (MailingStatus.SCHEDULED, MailingStatus.RUNNING)
PAUSED_ON_REQUEST = "Paused on request."


@transaction.atomic
def mailing_pause(*, mailing_id: int, reason: str = PAUSED_ON_REQUEST) -> Mailing:
    """Pauses a scheduled or running mailing, saying why in `paused_reason`.

    No sender claims its messages any more (mailings.dispatcher looks at the status in the
    claim itself); a chunk already claimed finishes and is recorded. A scheduled one does not
    start until resumed. Its end still holds: pending messages expire at end_at. Conflict (a
    409 naming the current status) for a paused, finished or cancelled mailing."""
    mailing = _locked(mailing_id)
    if mailing.status not in PAUSABLE:
        raise Conflict(
            f"This mailing is {mailing.status}: only a scheduled or running mailing can be paused.",
            code="mailing_not_pausable",
        )
    mailing.status = MailingStatus.PAUSED
    mailing.paused_reason = reason[:500]
    mailing.save(update_fields=["status", "paused_reason", "updated_at"])
    logger.info("mailing %s: paused (%s)", mailing.pk, mailing.paused_reason, extra={"mailing_id": mailing.pk})
    return mailing


@transaction.atomic
def mailing_resume(*, mailing_id: int) -> Mailing:
    """Resumes a paused mailing: back to running (its senders woken after the commit), or to
    scheduled when it was paused before its start (started at once if due). Its pause reason
    and its window of recent gateway answers are cleared. Conflict (a 409 naming the current
    status) for a mailing that is not paused."""
    mailing = _locked(mailing_id)
    if mailing.status != MailingStatus.PAUSED:
        raise Conflict(
            f"This mailing is {mailing.status}: only a paused mailing can be resumed.", code="mailing_not_paused"
        )
    mailing.status = MailingStatus.RUNNING if mailing.started_at else MailingStatus.SCHEDULED
    mailing.paused_reason = ""
    mailing.recent_answers = ""
    mailing.dispatched_at = timezone.now()
    mailing.save(update_fields=["status", "paused_reason", "recent_answers", "dispatched_at", "updated_at"])
    logger.info("mailing %s: resumed (%s)", mailing.pk, mailing.status, extra={"mailing_id": mailing.pk})
    if mailing.status == MailingStatus.RUNNING:
        senders_enqueue(mailing_id=mailing.pk)
    _start_if_due(mailing)
    return mailing


@transaction.atomic
def mailing_resend_failed(*, mailing_id: int, end_at: datetime | None = None) -> tuple[Mailing, int]:
    """Gives the mailing's undelivered messages (`failed`, `expired`) a new chance until
    `end_at` (None: the current end_at): back to pending, attempts reset, same ids, so the
    gateway can tell a resend from a new message. A `sent` message is never touched.

    A finished mailing runs again (its senders woken after the commit); a paused one stays
    paused until resumed. Returns the mailing and how many messages were given back.
    Conflict (a 409) when the mailing is cancelled, when the end is not in the future, or
    when there is nothing to resend."""
    mailing = _locked(mailing_id)
    now = timezone.now()
    if mailing.status == MailingStatus.CANCELLED:
        raise Conflict("This mailing is cancelled: it is not sent again.", code="mailing_closed")
    new_end = end_at or mailing.end_at
    if new_end <= now:
        raise Conflict(
            "The end is not in the future: the messages would expire at once.",
            code="mailing_end_passed",
            fields={"end_at": [f"{new_end.isoformat()} is not in the future; give a later end_at."]},
        )
    resent = (
        Message.objects.filter(mailing_id=mailing.pk, status__in=UNDELIVERED)
        .order_by()
        .update(status=MessageStatus.PENDING, attempts=0, last_error="", next_attempt_at=now, updated_at=Now())
    )
    if not resent:
        raise Conflict(
            f"This mailing ({mailing.status}) has no failed or expired message to resend.", code="nothing_to_resend"
        )
    mailing.end_at = new_end
    _validate(mailing, creating=False)
    if mailing.status == MailingStatus.FINISHED:
        mailing.status = MailingStatus.RUNNING
        mailing.finished_at = None
    mailing.dispatched_at = now
    mailing.save(update_fields=["end_at", "status", "finished_at", "dispatched_at", "updated_at"])
    logger.info(
        "mailing %s: %d undelivered messages resent until %s",
        mailing.pk,
        resent,
        new_end,
        extra={"mailing_id": mailing.pk},
    )
    if mailing.status == MailingStatus.RUNNING:
        senders_enqueue(mailing_id=mailing.pk)
    return mailing, resent


def messages_close(*, mailing_id: int | None = None, status: str, ended_before: datetime | None = None) -> int:
    """Gives pending messages a final `status` (cancelled, expired), skipping rows a sender
    holds right now; returns how many changed. Either one mailing's, or every mailing's
    that ended before `ended_before`, or (mailing_id None) every cancelled mailing's."""
    pending = Message.objects.filter(status=MessageStatus.PENDING)
    if mailing_id is not None:
        pending = pending.filter(mailing_id=mailing_id)
    if ended_before is not None:
        pending = pending.filter(mailing__end_at__lte=ended_before)
    elif mailing_id is None:
        pending = pending.filter(mailing__status=MailingStatus.CANCELLED)
    free = pending.select_for_update(skip_locked=True, of=("self",)).values("pk")
    return Message.objects.filter(pk__in=free).update(status=status, updated_at=Now())


def mailings_start_due(*, now: datetime | None = None) -> list[int]:
    """Starts now every due mailing -- still scheduled, its start come and its end not (the
    seed-era GET /activate_mailing/) -- instead of waiting for the beat tick; returns their
    ids, oldest start first. Each is started by the dispatcher's own `mailing_start` (one
    message per recipient, senders woken after its commit), which is idempotent: a mailing
    the tick starts at the same moment is started once."""
    from mailings.dispatcher import mailing_start  # the dispatcher imports this module

    now = now or timezone.now()
    due = Mailing.objects.filter(
        status=MailingStatus.SCHEDULED, start_at__lte=now, end_at__gt=now, deleted_at__isnull=True
    ).order_by("start_at", "id")
    started = list(due.values_list("pk", flat=True))
    for mailing_id in started:
        mailing_start(mailing_id=mailing_id)
    return started
