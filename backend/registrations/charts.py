"""The statistics page's chart: registration requests per day by outcome, as a stacked bar chart
laid out for inline SVG (the page needs no JavaScript)."""

from dataclasses import dataclass

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


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Chart:
    """A stacked bar chart of requests per day by outcome, laid out for inline SVG."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    plot_left: int
    bars: list[Bar]
    gridlines: list[tuple[float, int]]  # (y, value)
    labels: list[tuple[float, str]]  # (x, day)
    maximum: int
    days: int

    @classmethod
    def build(cls, per_day: list[DayCounts], *, width: int = 960, height: int = 280) -> "Chart":
        left, right, top, bottom = 48, 12, 12, height - 36
        plot_width = width - left - right
        plot_height = bottom - top
        maximum = max((day.total for day in per_day), default=0)
        scale_max = _nice_ceiling(maximum)
        slot = plot_width / max(len(per_day), 1)
        bar_width = max(slot * 0.75, 1)
        bars, labels = [], []
        label_every = max(1, round(len(per_day) / 10))
        for index, day in enumerate(per_day):
            x = left + index * slot + (slot - bar_width) / 2
            y = bottom
            for outcome in RegistrationOutcome.values:
                count = day.counts.get(outcome, 0)
                if not count:
                    continue
                bar_height = count / scale_max * plot_height
                y -= bar_height
                bars.append(
                    Bar(
                        x=round(x, 2),
                        y=round(y, 2),
                        width=round(bar_width, 2),
                        height=round(bar_height, 2),
                        colour=OUTCOME_COLOURS[outcome],
                        title=f"{day.day:%Y-%m-%d}: {count} {RegistrationOutcome(outcome).label.lower()}",
                    )
                )
            if index % label_every == 0:
                labels.append((round(left + index * slot + slot / 2, 2), f"{day.day:%d.%m}"))
        gridlines = [(round(bottom - plot_height * step / 4, 2), round(scale_max * step / 4)) for step in range(5)]
        return cls(
            width=width,
            height=height,
            plot_top=top,
            plot_bottom=bottom,
            plot_left=left,
            bars=bars,
            gridlines=gridlines,
            labels=labels,
            maximum=maximum,
            days=len(per_day),
        )


def _nice_ceiling(value: int) -> int:
    """The smallest of 4, 8, 20, 40, 80, 200, ... at least `value`: gridlines at quarters stay whole."""
    if value <= 4:
        return 4
    magnitude = 1
    while True:
        for step in (4, 8, 20):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10
