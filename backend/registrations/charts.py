"""The statistics page's chart: registration requests per day by outcome, stacked (core.charts)."""

from core.charts import Column, Series, StackedBarChart
from registrations.models import RegistrationOutcome
from registrations.selectors import DayCounts

OUTCOME_COLOURS = {
    RegistrationOutcome.CREATED: "#2e7d32",
    RegistrationOutcome.REJECTED: "#f9a825",
    RegistrationOutcome.CONFLICT: "#ef6c00",
    RegistrationOutcome.MALFORMED: "#8e24aa",
    RegistrationOutcome.THROTTLED: "#1e88e5",
    RegistrationOutcome.UNAVAILABLE: "#c62828",
    RegistrationOutcome.ERROR: "#6d4c41",
}
OUTCOME_SERIES = [
    Series(key=value, label=label.lower(), colour=OUTCOME_COLOURS[value])
    for value, label in RegistrationOutcome.choices
]


def requests_chart(per_day: list[DayCounts]) -> StackedBarChart:
    """A bar per day (oldest first, empty days included), stacked by outcome."""
    columns = [Column(label=f"{day.day:%d.%m}", title=f"{day.day:%Y-%m-%d}", counts=day.counts) for day in per_day]
    return StackedBarChart.build(
        columns, OUTCOME_SERIES, title=f"Requests per day over the last {len(columns)} days, stacked by outcome"
    )
