"""The outbox: one send per e-mail, retries with back-off, a final state, a sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Email, EmailStatus
from notifications.services import email_deliver, email_enqueue, email_retry, emails_sweep
from tests.smtp import text_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_down(settings):
    """Django's SMTP backend pointed at a port where nothing listens."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1


def queue_email(**overrides) -> Email:
    fields = {"to": ["ann@example.com"], "subject": "Hello", "body_text": "Text", "body_html": "<p>Text</p>"}
    return email_enqueue(**(fields | overrides))


def test_an_e_mail_is_sent_once_even_when_delivered_twice(smtp_sink):
    email = queue_email()

    email_deliver(email_id=email.pk)
    email_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert email.attempts == 1
    assert len(smtp_sink.messages) == 1
    message = smtp_sink.messages[0]
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Hello"
    assert text_body(message) == "Text"


def test_the_same_dedup_key_records_one_e_mail():
    first = queue_email(dedup_key="order:1:robot:1")
    second = queue_email(dedup_key="order:1:robot:1")

    assert first.pk == second.pk
    assert Email.objects.count() == 1


def test_an_smtp_outage_schedules_a_retry_with_back_off(settings, smtp_down):
    email = queue_email()

    delay = email_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == EmailStatus.PENDING
    assert email.attempts == 1
    assert "ConnectionRefusedError" in email.last_error
    assert settings.EMAIL_RETRY_BASE / 2 <= delay <= settings.EMAIL_RETRY_BASE
    assert email.next_attempt_at > timezone.now()
    assert email_deliver(email_id=email.pk) is None  # not due yet: nothing happens


def test_an_e_mail_fails_for_good_after_its_attempts(settings, smtp_down):
    settings.EMAIL_MAX_ATTEMPTS = 2
    email = queue_email()

    email_deliver(email_id=email.pk)
    Email.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    email_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 2)


def test_a_failed_e_mail_can_be_retried_by_an_admin(settings, smtp_sink):
    email = queue_email()
    Email.objects.filter(pk=email.pk).update(status=EmailStatus.FAILED, attempts=8)

    email_retry(email=email)
    email_deliver(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert len(smtp_sink.messages) == 1


def test_an_attachment_is_sent_along(smtp_sink, tmp_path):
    report = tmp_path / "weekly.xlsx"
    report.write_bytes(b"PK\x03\x04 fake workbook")
    email = queue_email(attachment_path=str(report))

    email_deliver(email_id=email.pk)

    attachments = [part for part in smtp_sink.messages[0].walk() if part.get_filename()]
    assert [part.get_filename() for part in attachments] == ["weekly.xlsx"]
    assert attachments[0].get_payload(decode=True) == b"PK\x03\x04 fake workbook"


def test_the_sweeper_re_enqueues_only_overdue_pending_e_mails():
    overdue = queue_email()
    Email.objects.filter(pk=overdue.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    queue_email()  # just queued: its own wake-up is on the way
    sent = queue_email()
    Email.objects.filter(pk=sent.pk).update(
        status=EmailStatus.SENT, next_attempt_at=timezone.now() - timedelta(hours=1)
    )

    assert emails_sweep() == 1
