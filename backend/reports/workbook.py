"""The weekly production workbook (XlsxWriter, assembled in memory).

One sheet per model produced in the period, named by its code, with «Модель | Версия |
Количество за неделю» and a row per version; then the summary sheet: a total per model,
the grand total, the period, and a bar chart. The counts are already aggregated, so what
is held in memory grows with the number of model-versions, never with the robots.
"""

import tempfile
from collections.abc import Iterable
from datetime import datetime
from itertools import groupby
from typing import IO

import xlsxwriter
from django.conf import settings
from django.utils import timezone

from reports.selectors import ModelVersionCount, weekly_counts

MODEL_HEADERS = ("Модель", "Версия", "Количество за неделю")
SUMMARY_SHEET = "Сводка"
SUMMARY_HEADERS = ("Модель", "Количество за неделю")
TOTAL_LABEL = "Всего"
EMPTY_NOTE = "За период роботов не произведено."
WORKBOOK_OPTIONS = {
    # The sheets and the zip's parts are built in memory: a sheet holds a row per version, so
    # memory stays small, while XlsxWriter's temporary files (one per sheet and per part,
    # ~30 a workbook, each created and unlinked on disk) were most of a build's time beyond
    # its query. (constant_memory would bring them back: XlsxWriter drops it in this mode.)
    "in_memory": True,
    "strings_to_numbers": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
}


def local_text(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%d.%m.%Y %H:%M")


def _sheet_name(code: str, taken: set[str]) -> str:
    # Excel compares sheet names without case: "r2" and "R2" need distinct names.
    name, suffix = code, 2
    while name.casefold() in taken:
        name, suffix = f"{code} ({suffix})", suffix + 1
    taken.add(name.casefold())
    return name


def weekly_workbook_write(
    target: str | IO[bytes], *, counts: Iterable[ModelVersionCount], since: datetime, until: datetime
) -> int:
    """Writes the workbook to a path or a binary file; returns the robots counted."""
    workbook = xlsxwriter.Workbook(target, WORKBOOK_OPTIONS)
    header = workbook.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1})
    number = workbook.add_format({"num_format": "#,##0"})
    total_label = workbook.add_format({"bold": True, "top": 1})
    total_number = workbook.add_format({"bold": True, "top": 1, "num_format": "#,##0"})

    taken = {SUMMARY_SHEET.casefold()}
    totals: list[tuple[str, int]] = []
    for model, rows in groupby(counts, key=lambda row: row.model):
        sheet = workbook.add_worksheet(_sheet_name(model, taken))
        sheet.set_column(0, 1, 10)
        sheet.set_column(2, 2, 24)
        for column, title in enumerate(MODEL_HEADERS):
            sheet.write_string(0, column, title, header)
        sheet.freeze_panes(1, 0)
        model_total = 0
        for row_number, row in enumerate(rows, start=1):
            sheet.write_string(row_number, 0, row.model)
            sheet.write_string(row_number, 1, row.version)
            sheet.write_number(row_number, 2, row.count, number)
            model_total += row.count
        totals.append((model, model_total))

    grand_total = sum(total for _, total in totals)
    summary = workbook.add_worksheet(SUMMARY_SHEET)
    summary.set_column(0, 0, 12)
    summary.set_column(1, 1, 24)
    summary.set_column(3, 3, 14)
    summary.set_column(4, 4, 20)
    about = [
        ("Период с", local_text(since)),
        ("по (не включая)", local_text(until)),
        ("Часовой пояс", settings.TIME_ZONE),
        ("Построен", local_text(timezone.now())),
    ]
    if not totals:
        about.append(("", EMPTY_NOTE))
    for column, title in enumerate(SUMMARY_HEADERS):
        summary.write_string(0, column, title, header)
    for row_number, (model, total) in enumerate(totals, start=1):
        summary.write_string(row_number, 0, model)
        summary.write_number(row_number, 1, total, number)
    summary.write_string(len(totals) + 1, 0, TOTAL_LABEL, total_label)
    summary.write_number(len(totals) + 1, 1, grand_total, total_number)
    for row_number, (label, value) in enumerate(about):
        if label:
            summary.write_string(row_number, 3, label, header)
        summary.write_string(row_number, 4, value)
    table_rows = len(totals) + 2  # the header, a row per model, the total
    if totals:
        chart = workbook.add_chart({"type": "column"})
        chart.add_series(
            {
                "name": "Количество за неделю",
                "categories": [SUMMARY_SHEET, 1, 0, len(totals), 0],
                "values": [SUMMARY_SHEET, 1, 1, len(totals), 1],
                "data_labels": {"value": True},
            }
        )
        chart.set_title({"name": "Роботы по моделям"})
        chart.set_legend({"none": True})
        chart.set_y_axis({"name": "Роботов", "major_gridlines": {"visible": True}})
        summary.insert_chart(max(table_rows, len(about)) + 1, 0, chart, {"x_scale": 1.3, "y_scale": 1.2})
    workbook.close()
    return grand_total


def weekly_workbook_temporary_file(*, since: datetime, until: datetime) -> IO[bytes]:
    """The workbook for [since, until) in an anonymous temporary file, positioned at its start."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    try:
        weekly_workbook_write(handle, counts=weekly_counts(since=since, until=until), since=since, until=until)
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle
