"""Outbox writes: enqueue an e-mail; its delivery, retries and sweep are the job lifecycle (core.jobs)."""

import logging
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import jobs
from core.queue import enqueue_on_commit
from notifications.models import Email
from notifications.tasks import email_send_task

logger = logging.getLogger(__name__)
SWEEP_LIMIT = 1000


def email_retry_policy() -> jobs.RetryPolicy:
    return jobs.RetryPolicy(
        max_attempts=settings.EMAIL_MAX_ATTEMPTS,
        base=settings.EMAIL_RETRY_BASE,
        cap=settings.EMAIL_RETRY_MAX_DELAY,
        sweep_grace=settings.EMAIL_SWEEP_GRACE,
    )


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


def _send(email: Email) -> list[str]:
    """The work of an e-mail job: talk SMTP (raises when the server is down, refuses, or times out)."""
    if email.attachment_path and not Path(email.attachment_path).is_file():
        raise FileNotFoundError(f"attachment {email.attachment_path} is missing")
    _message(email).send()
    email.sent_at = timezone.now()
    logger.info("email %s sent to %s recipient(s)", email.pk, len(email.recipients))
    return ["sent_at"]


def email_deliver(*, email_id: int) -> float | None:
    """Sends one due e-mail unless another worker is; returns the seconds until a retry, if one is due.

    The row stays locked while the SMTP server is talked to; a crash before the commit leaves
    it pending, to be sent again (the outbox's one possible duplicate).
    """
    return jobs.job_run(Email, job_id=email_id, policy=email_retry_policy(), work=_send)


def emails_sweep(*, grace_seconds: int | None = None) -> int:
    """Re-enqueues pending e-mails overdue by more than EMAIL_SWEEP_GRACE; returns how many."""
    grace = email_retry_policy().sweep_grace if grace_seconds is None else grace_seconds
    return len(jobs.jobs_sweep(Email, grace_seconds=grace, enqueue=email_send_task.delay, limit=SWEEP_LIMIT))


def email_retry(*, email: Email) -> bool:
    """An admin sends a failed e-mail again, with a fresh set of attempts."""
    return jobs.job_retry(Email, job_id=email.pk, task=email_send_task)
