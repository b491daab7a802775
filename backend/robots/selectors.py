"""Robot reads: the catalog, robots, stock."""

from django.db.models import Count, F, QuerySet
from django.shortcuts import get_object_or_404

from robots.models import Robot, RobotModel


def robot_model_list() -> QuerySet[RobotModel]:
    return RobotModel.objects.prefetch_related("versions")


def robot_model_get(*, code: str) -> RobotModel:
    return get_object_or_404(robot_model_list(), code=code)


def robot_list() -> QuerySet[Robot]:
    """Every robot, newest first; the API's filterset narrows it."""
    return Robot.objects.all()


def stock_list() -> QuerySet:
    """Per serial: robots produced, reserved for orders, and available."""
    return (
        Robot.objects.values("serial", "model", "version")
        .annotate(produced=Count("id"), reserved=Count("order"))
        .annotate(available=F("produced") - F("reserved"))
        .order_by("serial")
    )
