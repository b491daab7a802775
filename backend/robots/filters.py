"""The filters of the robot list: one FilterSet, run by robots.selectors (a bad value is a 400)."""

import django_filters

from core.filters import DateTimeInputFilter
from robots.models import CODE_VALIDATOR, Robot


class RobotFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(validators=[CODE_VALIDATOR])
    version = django_filters.CharFilter(validators=[CODE_VALIDATOR])
    created_after = DateTimeInputFilter(field_name="created", lookup_expr="gte")
    created_before = DateTimeInputFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Robot
        fields = ["model", "version", "created_after", "created_before"]
