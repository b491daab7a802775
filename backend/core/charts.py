"""Stacked bar charts laid out for inline SVG: the one chart library of the server-rendered pages.

The pages need no JavaScript (nginx's Content-Security-Policy allows no inline script): a view
builds a `StackedBarChart` from plain counts and the template `core/stacked_bar_chart.html`
draws it, with a title, a description, a tooltip per segment and a legend.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Series:
    """One kind of segment: `key` in each column's counts, its name in the legend, its colour."""

    key: str
    label: str
    colour: str


@dataclass(frozen=True)
class Column:
    """One bar: `label` under the axis (short, e.g. "29.11"), `title` in its tooltips (e.g.
    "2026-11-29") and `counts` by series key (a missing key counts 0)."""

    label: str
    title: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Bar:
    """One segment of a bar, in SVG user units (origin at the top left)."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class StackedBarChart:
    """Columns of segments stacked in the order of `series`, on a scale whose gridlines (at
    quarters) stay whole numbers; laid out for a `width` x `height` SVG viewBox."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    plot_left: int
    bars: list[Bar]
    gridlines: list[tuple[float, int]]  # (y, value)
    labels: list[tuple[float, str]]  # (x, column label)
    maximum: int  # the tallest column's total
    columns: list[Column]
    series: list[Series]
    title: str  # what the chart shows (the SVG's <title>)
    description: str  # its figures in words (the SVG's <desc>), for readers who cannot see it

    @property
    def is_empty(self) -> bool:
        return self.maximum == 0

    @property
    def table_rows(self) -> list[tuple[Column, list[int], int]]:
        """(column, its count per series in the order of `series`, its total): the chart's
        figures as a table, its text alternative."""
        return [
            (column, [column.counts.get(kind.key, 0) for kind in self.series], column.total) for column in self.columns
        ]

    @classmethod
    def build(
        cls,
        columns: Sequence[Column],
        series: Sequence[Series],
        *,
        title: str,
        width: int = 960,
        height: int = 280,
        max_labels: int = 10,
    ) -> "StackedBarChart":
        """Lays out `columns` (left to right) of `series` (bottom to top). A segment's tooltip
        reads "<column title>: <count> <series label>"; zero segments are left out. At most
        about `max_labels` column labels are written under the axis, evenly spaced. `title`
        names what the chart shows; the description, for screen readers, is written here."""
        left, right, top, bottom = 48, 12, 12, height - 36
        plot_width = width - left - right
        plot_height = bottom - top
        maximum = max((column.total for column in columns), default=0)
        scale_max = nice_ceiling(maximum)
        slot = plot_width / max(len(columns), 1)
        bar_width = max(slot * 0.75, 1)
        label_every = max(1, round(len(columns) / max_labels))
        bars, labels = [], []
        for index, column in enumerate(columns):
            x = left + index * slot + (slot - bar_width) / 2
            y = bottom
            for kind in series:
                count = column.counts.get(kind.key, 0)
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
                        colour=kind.colour,
                        title=f"{column.title}: {count} {kind.label}",
                    )
                )
            if index % label_every == 0:
                labels.append((round(left + index * slot + slot / 2, 2), column.label))
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
            columns=list(columns),
            series=list(series),
            title=title,
            description=_describe(columns, maximum),
        )


def _describe(columns: Sequence[Column], maximum: int) -> str:
    bars = f"{len(columns)} bar{'' if len(columns) == 1 else 's'}"
    if not maximum:
        return f"{bars}, all empty."
    highest = next(column for column in columns if column.total == maximum)
    return (
        f"{bars}, from {columns[0].title} to {columns[-1].title}, "
        f"{sum(column.total for column in columns)} in all; the highest is {highest.title} with {maximum}."
    )


def nice_ceiling(value: int) -> int:
    """The smallest of 4, 8, 20, 40, 80, 200, ... at least `value`: gridlines at quarters stay whole."""
    if value <= 4:
        return 4
    magnitude = 1
    while True:
        for step in (4, 8, 20):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


# Distinguishable colours for series that have none of their own (robot models, ...), in order.
PALETTE = ("#1f5f99", "#2e7d32", "#ef6c00", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#f9a825", "#546e7a")


def palette_series(keys: Sequence[str]) -> list[Series]:
    """A series per key, labelled by the key, coloured from PALETTE in order (repeating past its end)."""
    return [Series(key=key, label=key, colour=PALETTE[index % len(PALETTE)]) for index, key in enumerate(keys)]
