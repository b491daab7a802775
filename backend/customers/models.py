"""The customer directory: who orders robots and who receives mailings."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from core.phones import PHONE_FORMAT, PHONE_PATTERN, validate_phone_stored_form
from customers.timezones import validate_timezone

OPERATOR_CODE_PATTERN = r"^[0-9]{3}$"


def default_timezone() -> str:
    """New customers live in the factory's time zone unless told otherwise."""
    return settings.TIME_ZONE


class Customer(models.Model):
    """A customer, known by e-mail (orders) and/or phone (mailings)."""

    email = models.EmailField(max_length=254, null=True, blank=True)
    phone_number = models.CharField(
        max_length=11,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_phone_stored_form],
        help_text=PHONE_FORMAT,
    )
    operator_code = models.CharField(
        max_length=3,
        blank=True,
        default="",
        db_index=True,
        validators=[RegexValidator(OPERATOR_CODE_PATTERN, "An operator code is 3 digits.")],
        help_text="Mobile operator code; digits 2-4 of the phone unless given.",
    )
    tag = models.CharField(max_length=64, blank=True, default="", db_index=True)
    timezone = models.CharField(
        max_length=64,
        default=default_timezone,
        validators=[validate_timezone],
        help_text="IANA name (Europe/Moscow) or a fixed offset (UTC+03:00).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_case_insensitive"),
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(phone_number__isnull=False),
                name="customer_has_email_or_phone",
            ),
            models.CheckConstraint(
                condition=Q(phone_number__isnull=True) | Q(phone_number__regex=PHONE_PATTERN),
                name="customer_phone_is_7_and_10_digits",
            ),
            models.CheckConstraint(
                condition=Q(operator_code="") | Q(operator_code__regex=OPERATOR_CODE_PATTERN),
                name="customer_operator_code_is_3_digits",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.phone_number or f"customer #{self.pk}"
