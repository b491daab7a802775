"""Robot models and versions (the catalog), and the robots the production lines report."""

from datetime import UTC, datetime

from django.core.validators import RegexValidator
from django.db import models

from core.guards import DEFAULT_EARLIEST_YEAR, DEFAULT_LATEST_YEAR

CODE_VALIDATOR = RegexValidator(r"^[A-Za-z0-9]{2}$", "A code is exactly two letters or digits.")
# The instants core.guards lets a robot's `created` name: years 2000-2100 as the production
# line writes them, with offsets up to ±14:00, i.e. from 2000-01-01 00:00+14:00 to the end of
# 2100-12-31 at -14:00 in UTC.
CREATED_EARLIEST = datetime(DEFAULT_EARLIEST_YEAR - 1, 12, 31, 10, tzinfo=UTC)
CREATED_LATEST_EXCLUDED = datetime(DEFAULT_LATEST_YEAR + 1, 1, 1, 14, tzinfo=UTC)


class RobotModel(models.Model):
    """A robot model of the catalog, e.g. R2."""

    code = models.CharField(max_length=2, unique=True, validators=[CODE_VALIDATOR])
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class RobotVersion(models.Model):
    """A version of a robot model, e.g. D2 of R2 (serial R2-D2)."""

    model = models.ForeignKey(RobotModel, on_delete=models.PROTECT, related_name="versions")
    code = models.CharField(max_length=2, validators=[CODE_VALIDATOR])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["model", "code"], name="robot_version_unique_per_model"),
        ]

    def __str__(self) -> str:
        return f"{self.model.code}-{self.code}"


class Robot(models.Model):
    """A robot a production line finished.

    `model`, `version` and `serial` repeat the catalog's codes so the weekly report and the
    stock are answered from this table's indexes alone; `robot_version` keeps them honest.
    """

    robot_version = models.ForeignKey(RobotVersion, on_delete=models.PROTECT, related_name="robots")
    serial = models.CharField(max_length=5)
    model = models.CharField(max_length=2)
    version = models.CharField(max_length=2)
    created = models.DateTimeField(help_text="When the production line finished the robot.")
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was reported.")

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(serial=models.functions.Concat("model", models.Value("-"), "version")),
                name="robot_serial_is_model_dash_version",
            ),
            models.CheckConstraint(
                condition=models.Q(created__gte=CREATED_EARLIEST, created__lt=CREATED_LATEST_EXCLUDED),
                name="robot_created_in_api_years",
            ),
        ]
        indexes = [
            # The weekly report: counts per model and version over a time range, index-only.
            models.Index(fields=["created"], include=["model", "version"], name="robot_created_covering"),
            # Stock and allocation: robots of one serial, oldest first.
            models.Index(fields=["serial", "created"], name="robot_serial_created"),
        ]

    def __str__(self) -> str:
        return f"{self.serial} #{self.pk}"
