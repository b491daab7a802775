"""The customer directory: who orders robots and who receives mailings."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from core import jobs
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
        validators=[validate_phone_stored_form],
        help_text=PHONE_FORMAT,
    )
    operator_code = models.CharField(
        max_length=3,
        blank=True,
        default="",
        validators=[RegexValidator(OPERATOR_CODE_PATTERN, "An operator code is 3 digits.")],
        help_text="Mobile operator code; digits 2-4 of the phone unless given.",
    )
    tag = models.CharField(max_length=64, blank=True, default="")
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
        # Declared here rather than as unique=True/db_index=True on the fields: those add a
        # second, varchar_pattern_ops index per field for LIKE, which nothing here asks and
        # every customer written pays for (three of eight indexes).
        indexes = [
            models.Index(fields=["operator_code"], name="customer_operator_code"),
            models.Index(fields=["tag"], name="customer_tag"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["phone_number"], name="customer_phone_number_unique"),
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


class CustomerImportStatus(models.TextChoices):
    PENDING = jobs.PENDING, "Pending"
    RUNNING = jobs.RUNNING, "Running"
    DONE = "done", "Done"
    FAILED = jobs.FAILED, "Failed"


class CustomerImportFormat(models.TextChoices):
    CSV = "csv", "CSV (UTF-8, header row)"
    XLSX = "xlsx", "XLSX (first sheet, header row)"


class CustomerImport(jobs.Job):
    """One upload of a customer file (CSV or XLSX), imported in batches (a job run in steps,
    core.jobs.job_run_in_steps).

    The file waits under IMPORTS_DIR (shared by the web and worker processes); each batch
    commits its customers together with the counters below, so `processed` is also where a
    worker that takes over after a crash goes on from.
    """

    DONE = CustomerImportStatus.DONE

    status = models.CharField(max_length=10, choices=CustomerImportStatus.choices, default=CustomerImportStatus.PENDING)
    file_name = models.CharField(max_length=255, help_text="The uploaded file's own name.")
    file_path = models.CharField(max_length=100, help_text="Relative to IMPORTS_DIR; emptied once the import is done.")
    file_format = models.CharField(max_length=4, choices=CustomerImportFormat.choices)
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total = models.PositiveIntegerField(
        null=True, blank=True, help_text="Data rows in the file (an XLSX's is its sheet's size until done)."
    )
    processed = models.PositiveIntegerField(default=0, help_text="Data rows read and committed so far.")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0, help_text="Rows that changed an existing customer.")
    unchanged = models.PositiveIntegerField(default=0, help_text="Rows equal to the customer already stored.")
    failed = models.PositiveIntegerField(default=0, help_text="Rows refused (see errors).")
    errors = models.JSONField(default=list, blank=True, help_text="[{row, field, reason}], the first ones only.")
    errors_truncated = models.BooleanField(default=False, help_text="More rows failed than `errors` keeps.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=[CustomerImportStatus.PENDING, CustomerImportStatus.RUNNING]),
                name="customerimport_unfinished_due",
            ),
        ]

    def __str__(self) -> str:
        return f"customer import #{self.pk} ({self.file_name}, {self.status})"


class CustomerImportKey(models.Model):
    """A phone or e-mail already imported by an earlier row of the same file: a later row
    with it is refused as a duplicate, even many batches on (kept in PostgreSQL, not in the
    worker's memory, and committed with its batch so a resumed import sees the same)."""

    # No index of its own: the unique constraint's index begins with it.
    customer_import = models.ForeignKey(CustomerImport, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=260, help_text="'phone:7XXXXXXXXXX' or 'email:' + lower-case address.")
    row = models.PositiveIntegerField(help_text="The row that used it first.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer_import", "key"], name="customerimportkey_once_per_import"),
        ]

    def __str__(self) -> str:
        return f"{self.key} (row {self.row})"
