"""Outbox writes: enqueue an e-mail, deliver it once, retry with back-off, sweep up strays."""

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.queue import enqueue_on_commit
from core.retry import backoff_delay
from notifications.models import Email, EmailStatus

logger = logging.getLogger(__name__)


def email_enqueue(
    *,
    to: list[str],
    subject: str,
    body_text: str,
    body_html: str = "",
    attachment_path: str = "",
    dedup_key: str | None = None,
) -> Email:
    """Records an e-mail and sends it after the current transaction commits.

    With a `dedup_key`, asking twice records (and sends) one e-mail.
    """
    from notifications.tasks import email_send_task

    if dedup_key is not None:
        existing = Email.objects.filter(dedup_key=dedup_key).first()
        if existing is not None:
            return existing
    email = Email(
        recipients=to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        attachment_path=attachment_path,
        dedup_key=dedup_key,
    )
    email.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            email.save()
    except IntegrityError:  # the same dedup_key was recorded concurrently
        return Email.objects.get(dedup_key=dedup_key)
    logger.info("email %s queued: %s", email.pk, subject)
    enqueue_on_commit(email_send_task, email.pk)
    return email


def _message(email: Email) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=email.recipients,
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
        headers={"X-R4C-Email-Id": str(email.pk)},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    if email.attachment_path:
        message.attach_file(email.attachment_path)
    return message


def email_deliver(*, email_id: int) -> float | None:
    """Sends one due e-mail if nobody else is; returns the delay before a retry, if one is due.

    The row stays locked while the SMTP server is talked to, so concurrent tasks for the
    same e-mail skip it; a crash before the commit leaves it pending, to be sent again.
    """
    with transaction.atomic():
        email = (
            Email.objects.select_for_update(skip_locked=True)
            .filter(pk=email_id, status=EmailStatus.PENDING, next_attempt_at__lte=timezone.now())
            .first()
        )
        if email is None:
            return None  # sent, failed for good, not due yet, or being sent by another worker
        email.attempts += 1
        try:
            if email.attachment_path and not Path(email.attachment_path).is_file():
                raise FileNotFoundError(f"attachment {email.attachment_path} is missing")
            _message(email).send()
        except Exception as exc:  # SMTP down, refused, timed out: retry later or give up
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if email.attempts >= settings.EMAIL_MAX_ATTEMPTS:
                email.status = EmailStatus.FAILED
                email.save(update_fields=["attempts", "last_error", "status", "updated_at"])
                logger.error("email %s failed for good after %s attempts: %s", email.pk, email.attempts, exc)
                return None
            delay = backoff_delay(email.attempts, base=settings.EMAIL_RETRY_BASE, cap=settings.EMAIL_RETRY_MAX_DELAY)
            email.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            email.save(update_fields=["attempts", "last_error", "next_attempt_at", "updated_at"])
            logger.warning("email %s attempt %s failed (%s); retry in %.0fs", email.pk, email.attempts, exc, delay)
            return delay
        email.status = EmailStatus.SENT
        email.sent_at = timezone.now()
        email.last_error = ""
        email.save(update_fields=["attempts", "status", "sent_at", "last_error", "updated_at"])
        logger.info("email %s sent to %s recipient(s)", email.pk, len(email.recipients))
        return None


def emails_sweep(*, grace_seconds: int | None = None) -> int:
    """Re-enqueues pending e-mails overdue by more than the grace period (a lost message,
    a crashed worker, a broker outage); returns how many."""
    from notifications.tasks import email_send_task

    grace = settings.EMAIL_SWEEP_GRACE if grace_seconds is None else grace_seconds
    overdue = Email.objects.filter(
        status=EmailStatus.PENDING, next_attempt_at__lte=timezone.now() - timedelta(seconds=grace)
    ).values_list("pk", flat=True)[:1000]
    ids = list(overdue)
    for email_id in ids:
        email_send_task.delay(email_id)
    if ids:
        logger.info("swept %s overdue e-mail(s)", len(ids))
    return len(ids)


@transaction.atomic
def email_retry(*, email: Email) -> None:
    """An admin sends a failed e-mail again, with a fresh set of attempts."""
    from notifications.tasks import email_send_task

    Email.objects.filter(pk=email.pk, status=EmailStatus.FAILED).update(
        status=EmailStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    enqueue_on_commit(email_send_task, email.pk)
