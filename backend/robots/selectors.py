"""Robot reads: the catalog and robots (the stock, robots less those orders reserve, is in orders)."""

from collections.abc import Mapping

from django.db.models import QuerySet

from core.filters import filterset_apply
from core.selectors import get_or_404
from robots.filters import RobotFilter
from robots.models import Robot, RobotModel, RobotVersion


def robot_model_list() -> QuerySet[RobotModel]:
    return RobotModel.objects.prefetch_related("versions")


def robot_model_get(*, code: str) -> RobotModel:
    return get_or_404(robot_model_list(), code=code)


def robot_version_exists(*, model: str, version: str) -> bool:
    """Whether the catalog holds `version` of `model` (codes, e.g. "R2" and "D2")."""
    return RobotVersion.objects.filter(model__code=model, code=version).exists()


def robot_list(*, filters: Mapping | None = None) -> QuerySet[Robot]:
    """Robots, newest first; `filters` (e.g. the query parameters) go through RobotFilter, so a
    bad value raises a ValidationError (a 400)."""
    queryset = Robot.objects.all()
    if filters is not None:
        queryset = filterset_apply(RobotFilter, filters, queryset)
    return queryset
