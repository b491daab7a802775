"""Mailing writes: create, edit, cancel, delete. Sending lives in mailings.dispatcher."""

import logging
import re
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from core.exceptions import Conflict
from core.queue import enqueue_on_commit
from core.selectors import get_or_404
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.tasks import mailing_start_task

logger = logging.getLogger(__name__)

TEXT_MAX_LENGTH = 1000
_UNSET = object()
# What may change once a mailing runs: only when it ends (and it may be cancelled).
RUNNING_EDITABLE = {"end_at"}


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
) -> Mailing:
    """A new mailing; one whose start has come is started right after the commit (the beat
    tick starts the others at their time)."""
    mailing = Mailing(
        start_at=start_at,
        end_at=end_at,
        text=text,
        filter_operator_code=(filter_operator_code or "").strip(),
        filter_tag=(filter_tag or "").strip(),
        send_window_start=send_window_start,
        send_window_end=send_window_end,
    )
    _validate(mailing, creating=True)
    mailing.save()
    logger.info("mailing %s: created", mailing.pk, extra={"mailing_id": mailing.pk})
    _start_if_due(mailing)
    return mailing


@transaction.atomic
def mailing_update(*, mailing_id: int, **changes) -> Mailing:
    """Edits a mailing. A scheduled one may change anything; a running one only its end;
    a finished or cancelled one nothing."""
    mailing = get_or_404(Mailing.objects.select_for_update().filter(deleted_at__isnull=True), pk=mailing_id)
    changes = {key: value for key, value in changes.items() if getattr(mailing, key) != value}
    if mailing.status in (MailingStatus.FINISHED, MailingStatus.CANCELLED) and changes:
        raise Conflict(f"A {mailing.status} mailing cannot be changed.", code="mailing_closed")
    if mailing.status == MailingStatus.RUNNING:
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
    """Stops a scheduled or running mailing: its pending messages become `cancelled`.

    Messages a sender holds right now are left to it: it records what the gateway said,
    and the beat tick cancels whatever it left pending."""
    mailing = get_or_404(Mailing.objects.select_for_update().filter(deleted_at__isnull=True), pk=mailing_id)
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
    mailing = get_or_404(Mailing.objects.select_for_update().filter(deleted_at__isnull=True), pk=mailing_id)
    if mailing.status in (MailingStatus.SCHEDULED, MailingStatus.RUNNING):
        mailing_cancel(mailing_id=mailing.pk)
        mailing.refresh_from_db()
    mailing.deleted_at = timezone.now()
    mailing.save(update_fields=["deleted_at", "updated_at"])
    logger.info("mailing %s: deleted", mailing.pk, extra={"mailing_id": mailing.pk})


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
