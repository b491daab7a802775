"""Accounts: the user model (people and machines) and the log of account provisioning requests."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower

from core.phones import PHONE_FORMAT, PHONE_PATTERN


class UserManager(DjangoUserManager):
    def get_by_natural_key(self, username):
        # Logins are unique in any case (accounts_user_username_ci_unique), so "ANN" signs in
        # as "ann"; comparing PostgreSQL's lower() to lower() uses that index, and agrees with it.
        return self.alias(login=Lower("username")).get(login=Lower(Value(str(username))))


class User(AbstractUser):
    """An account: staff, an integrator, or a machine (a production line's token)."""

    first_name = None
    last_name = None
    name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=11, blank=True, help_text=PHONE_FORMAT)
    birth_date = models.DateField(null=True, blank=True)

    REQUIRED_FIELDS = ["email"]

    objects = UserManager()

    class Meta:
        ordering = ["username"]
        constraints = [
            # "Ann" and "ann" are one login: people type logins in any case.
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="accounts_user_email_ci_unique"
            ),
            models.UniqueConstraint(fields=["phone"], condition=~models.Q(phone=""), name="accounts_user_phone_unique"),
            models.CheckConstraint(
                condition=models.Q(phone="") | models.Q(phone__regex=PHONE_PATTERN),
                name="accounts_user_phone_format",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.name or self.username

    def get_short_name(self) -> str:
        return self.name or self.username


class RegistrationOutcome(models.TextChoices):
    CREATED = "created", "Created"
    REJECTED = "rejected", "Rejected (invalid input)"
    CONFLICT = "conflict", "Conflict (already taken)"
    MALFORMED = "malformed", "Malformed request"
    THROTTLED = "throttled", "Throttled"
    UNAVAILABLE = "unavailable", "Service unavailable"
    ERROR = "error", "Server error"


class RegistrationRequest(models.Model):
    """One request to `POST /api/v1/useradd/`, whatever became of it.

    Written after the account's transaction has ended (see accounts.request_log), so a
    rolled-back registration is still on record. Holds no password; phone and e-mail are
    masked before they get here.
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
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="registration_requests"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["outcome", "created_at"], name="accounts_regreq_outcome_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.status_code} {self.outcome} {self.login}"
