"""The registration request log: one row per request to `POST /api/v1/useradd/`, whatever became of it."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class RegistrationOutcome(models.TextChoices):
    CREATED = "created", "Created"
    REJECTED = "rejected", "Rejected (invalid input)"
    CONFLICT = "conflict", "Conflict (already taken)"
    MALFORMED = "malformed", "Malformed request"
    THROTTLED = "throttled", "Throttled"
    UNAVAILABLE = "unavailable", "Service unavailable"
    ERROR = "error", "Server error"


class RegistrationRequest(models.Model):
    """One request to `POST /api/v1/useradd/`, whatever became of it: an entry of the
    registration request log.

    Written after the account's transaction has ended (registrations.middleware), so a
    rolled-back registration is on record too. Holds no password; phone and e-mail are
    masked before they get here. While the database is unreachable an entry waits in the
    spool (REGISTRATION_REQUEST_LOG_SPOOL_DIR; registrations.services).
    """

    entry_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(db_index=True)
    request_id = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=10, default="POST")
    status_code = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=20, choices=RegistrationOutcome.choices)
    error_codes = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    errors = models.JSONField(default=dict, blank=True, help_text="Messages by field, as the client got them.")
    login = models.CharField(max_length=150, blank=True, help_text="The login asked for.")
    email_masked = models.CharField(max_length=254, blank=True)
    phone_masked = models.CharField(max_length=32, blank=True)
    client_address = models.CharField(max_length=100, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    duration_ms = models.FloatField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registration_requests",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["outcome", "created_at"], name="registration_request_outcome")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.status_code} {self.outcome} {self.login}"
