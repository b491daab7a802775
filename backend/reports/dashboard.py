"""The managers' dashboard: what it reads from the apps above reports, and its charts (core.charts)."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.charts import Column, Series, StackedBarChart, palette_series
from reports.selectors import DayProduction

DASHBOARD_DAYS = 30
LATEST_REPORTS = 10
HALF_WIDTH = {"width": 520, "height": 240}  # the charts that share a row: text stays legible when scaled


@dataclass(frozen=True)
class DashboardSources:
    """The dashboard's figures owned by orders and mailings, which reports may not import
    (DESIGN.md §3: reports sits on robots and notifications). config/urls.py, which wires
    every app, hands their selectors to the view; each is called once per page, one query each.

    - `stock()`: rows (mappings) with `serial`, `produced`, `reserved`, `available`, by serial;
    - `waiting_orders()`: (serial, orders waiting) pairs, by serial;
    - `message_counts()`: SMS messages by status, every status present, plus `total`;
    - `mailing_counts()`: mailings by status, every status present.
    """

    stock: Callable[[], Iterable[Mapping]]
    waiting_orders: Callable[[], Iterable[tuple[str, int]]]
    message_counts: Callable[[], Mapping[str, int]]
    mailing_counts: Callable[[], Mapping[str, int]]


STOCK_SERIES = [
    Series(key="available", label="available", colour="#2e7d32"),
    Series(key="reserved", label="reserved for orders", colour="#ef6c00"),
]
WAITING_SERIES = [Series(key="waiting", label="orders waiting", colour="#1f5f99")]


def production_chart(per_day: Sequence[DayProduction]) -> StackedBarChart:
    """A bar per day (oldest first), stacked by robot model, a colour per model (by code)."""
    models = sorted({model for day in per_day for model in day.counts})
    columns = [Column(label=f"{day.day:%d.%m}", title=f"{day.day:%Y-%m-%d}", counts=day.counts) for day in per_day]
    return StackedBarChart.build(
        columns,
        palette_series(models),
        title=f"Robots produced per day over the last {len(columns)} days, stacked by model",
    )


def stock_chart(rows: Sequence[Mapping]) -> StackedBarChart:
    """A bar per serial: its robots available, then those reserved for orders."""
    columns = [
        Column(
            label=row["serial"],
            title=row["serial"],
            counts={"available": row["available"], "reserved": row["reserved"]},
        )
        for row in rows
    ]
    return StackedBarChart.build(
        columns, STOCK_SERIES, title="Robots in stock per serial: available and reserved", **HALF_WIDTH
    )


def waiting_chart(rows: Sequence[tuple[str, int]]) -> StackedBarChart:
    """A bar per serial with the orders waiting for a robot of it."""
    columns = [Column(label=serial, title=serial, counts={"waiting": count}) for serial, count in rows]
    return StackedBarChart.build(columns, WAITING_SERIES, title="Orders waiting per serial", **HALF_WIDTH)


def messages_chart(counts: Mapping[str, int]) -> StackedBarChart:
    """A bar per message status (in the order `counts` gives them, `total` left out), a colour each."""
    statuses = [status for status in counts if status != "total"]
    columns = [Column(label=status, title="messages", counts={status: counts[status]}) for status in statuses]
    return StackedBarChart.build(
        columns, palette_series(statuses), title="SMS messages of every mailing by status", height=220
    )
