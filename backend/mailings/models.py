"""SMS mailings, their messages, the dispatcher and the gateway client."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from core import jobs


class MailingStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    # Sends nothing (a scheduled one does not start) until resumed; end_at still holds.
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"


class MessageStatus(models.TextChoices):
    """A message is a job (core.jobs' states and back-off), sent by set-based SQL (mailings.dispatcher)."""

    PENDING = jobs.PENDING, "Pending"
    SENT = "sent", "Sent"
    FAILED = jobs.FAILED, "Failed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class Mailing(models.Model):
    """An SMS campaign: a text sent between start_at and end_at to the customers its filters match,
    each inside the send window of their own local time (when a window is set)."""

    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    text = models.TextField()
    filter_operator_code = models.CharField(max_length=3, blank=True, default="")
    filter_tag = models.CharField(max_length=64, blank=True, default="")
    send_window_start = models.TimeField(null=True, blank=True, help_text="Customer's local time, HH:MM.")
    send_window_end = models.TimeField(null=True, blank=True, help_text="Customer's local time, HH:MM.")
    status = models.CharField(max_length=16, choices=MailingStatus.choices, default=MailingStatus.SCHEDULED)
    error_threshold_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Pauses itself when this share of the recent gateway answers are failures; "
        "empty: MAILING_ERROR_THRESHOLD_PERCENT.",
    )
    paused_reason = models.CharField(max_length=500, blank=True, default="", help_text="Why it is paused.")
    # The mailing's last MAILING_ERROR_WINDOW gateway answers, oldest first: "1" a success,
    # "0" a failure. Appended in the transaction that records a chunk, so it survives a
    # worker kill exactly as the chunk's outcomes do; cleared on resume.
    recent_answers = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Deleted through the API: hidden, kept.")
    # Last time a sender worked on it: the sweeper restarts a running mailing idle for too long.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_at", "-id"]
        indexes = [
            models.Index(fields=["status", "start_at"], name="mailing_status_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="mailing_ends_after_start"),
            models.CheckConstraint(
                condition=Q(send_window_start__isnull=True, send_window_end__isnull=True)
                | Q(send_window_start__isnull=False, send_window_end__isnull=False),
                name="mailing_window_has_both_ends",
            ),
            models.CheckConstraint(
                condition=Q(error_threshold_percent__isnull=True)
                | Q(error_threshold_percent__gte=1, error_threshold_percent__lte=100),
                name="mailing_error_threshold_is_a_percentage",
            ),
        ]

    def __str__(self) -> str:
        return f"mailing #{self.pk} ({self.status})"

    @property
    def has_window(self) -> bool:
        return self.send_window_start is not None and self.send_window_end is not None


class Message(models.Model):
    """One SMS of a mailing to one customer. The phone and time zone are the customer's when
    the mailing started; the message id is the gateway's idempotency key."""

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="messages")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    phone_number = models.CharField(max_length=11)
    timezone = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    next_attempt_at = models.DateTimeField(help_text="A pending message is not tried before this.")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["mailing", "customer"], name="message_once_per_mailing_and_customer"),
            models.CheckConstraint(
                condition=Q(status=MessageStatus.SENT, sent_at__isnull=False) | ~Q(status=MessageStatus.SENT),
                name="message_sent_has_sent_at",
            ),
        ]
        indexes = [
            models.Index(fields=["mailing", "status"], name="message_mailing_status"),
            # The dispatcher's claim: due pending messages of one mailing.
            models.Index(
                fields=["mailing", "next_attempt_at"],
                condition=Q(status=MessageStatus.PENDING),
                name="message_pending_due",
            ),
            models.Index(fields=["status"], name="message_status"),
        ]

    def __str__(self) -> str:
        return f"message #{self.pk} ({self.status})"
