"""The outbox: every e-mail the platform sends is a row here before it is a Celery message."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from core import jobs


class EmailStatus(models.TextChoices):
    PENDING = jobs.PENDING, "Pending"
    SENT = "sent", "Sent"
    FAILED = jobs.FAILED, "Failed"


class Email(jobs.Job):
    """One e-mail to send (a job, core.jobs). The send task locks the row, sends, and records
    the outcome, so an e-mail recorded as sent is never sent again; a pending one is retried
    until it is sent or has used up its attempts."""

    DONE = EmailStatus.SENT

    recipients = ArrayField(models.EmailField(max_length=254))
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    attachment_path = models.CharField(max_length=500, blank=True, help_text="A file to attach, e.g. a report.")
    # What the e-mail is about, unique where it must go out once (e.g. "order:17:available").
    dedup_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(status=EmailStatus.PENDING), name="email_pending_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.recipients)}"
