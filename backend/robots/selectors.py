"""Robot reads: the catalog and robots (the stock, robots less those orders reserve, is in orders)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from robots.models import Robot, RobotModel, RobotVersion


def robot_model_list() -> QuerySet[RobotModel]:
    return RobotModel.objects.prefetch_related("versions")


def robot_model_get(*, code: str) -> RobotModel:
    return get_object_or_404(robot_model_list(), code=code)


def robot_version_exists(*, model: str, version: str) -> bool:
    """Whether the catalog holds `version` of `model` (codes, e.g. "R2" and "D2")."""
    return RobotVersion.objects.filter(model__code=model, code=version).exists()


def robot_list() -> QuerySet[Robot]:
    """Every robot, newest first; the API's filterset narrows it."""
    return Robot.objects.all()
