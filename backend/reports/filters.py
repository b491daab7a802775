"""The filters of the stored reports: one FilterSet, run by reports.selectors (a bad value is a 400)."""

import django_filters

from reports.models import Report, ReportKind, ReportStatus


class ReportFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ReportStatus.choices)
    kind = django_filters.ChoiceFilter(choices=ReportKind.choices)

    class Meta:
        model = Report
        fields = ["status", "kind"]
