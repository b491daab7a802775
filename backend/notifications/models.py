"""The outbox: every e-mail the platform sends is a row here before it is a Celery message."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Email(models.Model):
    """One e-mail to send. The send task locks the row, sends, and records the outcome, so an
    e-mail recorded as sent is never sent again; a pending one is retried until it is sent
    or has used up its attempts."""

    recipients = ArrayField(models.EmailField(max_length=254))
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    attachment_path = models.CharField(max_length=500, blank=True, help_text="A file to attach, e.g. a report.")
    # What the e-mail is about, unique where it must go out once (e.g. "order:17:available").
    dedup_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="email_pending_due"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.recipients)}"
