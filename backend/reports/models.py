"""Stored production reports: a row per build, with its period, status and file."""

from django.conf import settings
from django.db import models

from core import jobs


class ReportKind(models.TextChoices):
    NIGHTLY = "nightly", "Nightly (7 full days, e-mailed to managers)"
    ON_DEMAND = "on_demand", "On demand"


class ReportStatus(models.TextChoices):
    PENDING = jobs.PENDING, "Pending"
    READY = "ready", "Ready"
    FAILED = jobs.FAILED, "Failed"
    EXPIRED = "expired", "Expired (file pruned)"


class Report(jobs.Job):
    """One build of the weekly production workbook (a job, core.jobs).

    The row is committed first and a task fills it (DESIGN.md §2): it locks the row,
    writes the file atomically under REPORTS_DIR and records what it wrote. A pending row
    whose wake-up was lost is re-enqueued by the sweeper; a ready row is never rebuilt.
    """

    DONE = ReportStatus.READY

    kind = models.CharField(max_length=10, choices=ReportKind.choices, default=ReportKind.ON_DEMAND)
    period_start = models.DateTimeField(help_text="Robots produced at or after this moment are counted.")
    period_end = models.DateTimeField(help_text="Robots produced before this moment are counted.")
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.PENDING)
    email_managers = models.BooleanField(default=False, help_text="E-mail the file to MANAGER_EMAILS once built.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=100, blank=True, help_text="The name the file is downloaded as.")
    file_path = models.CharField(max_length=255, blank=True, help_text="Relative to REPORTS_DIR.")
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes.")
    sha256 = models.CharField(max_length=64, blank=True)
    robots = models.PositiveBigIntegerField(null=True, blank=True, help_text="Robots counted in the period.")
    build_seconds = models.FloatField(null=True, blank=True, help_text="Time taken to build and store the file.")
    finished_at = models.DateTimeField(null=True, blank=True)
    pruned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The nightly job may run twice for one period (a beat restart, an admin's "run"):
            # it still makes one report.
            models.UniqueConstraint(
                fields=["period_start", "period_end"],
                condition=models.Q(kind=ReportKind.NIGHTLY),
                name="report_one_nightly_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")), name="report_period_not_empty"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(status=ReportStatus.PENDING), name="report_pending_due"
            ),
            models.Index(
                fields=["finished_at"], condition=models.Q(status=ReportStatus.READY), name="report_ready_finished"
            ),
        ]

    def __str__(self) -> str:
        return f"report #{self.pk} ({self.kind}, {self.status})"
