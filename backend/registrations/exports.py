"""Exports of the registration request log: tab-separated text and xlsx, both built in flat memory.

The text export is generated row by row while it is sent. The xlsx workbook is written
by XlsxWriter in constant_memory mode (each row goes to disk as it is written) into an
anonymous temporary file, which is then sent in chunks; neither ever holds the log in memory.

Both hold as much of the log as their reader may see (registrations.selectors.LogReader), and no
cell a spreadsheet would take for a formula (OWASP, "CSV Injection"): a text beginning with
=, +, -, @, a tab or a carriage return (or their full-width forms) is written with a leading
apostrophe in the text export, and as a quote-prefixed text cell (shown as it is, never
evaluated, even once edited) in the workbook.
"""

import json
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import IO

import xlsxwriter
from django.utils import timezone

from registrations.selectors import LogReader, registration_request_export_rows

HEADERS = {
    "created_at": "time",
    "request_id": "request_id",
    "method": "method",
    "status_code": "status",
    "outcome": "outcome",
    "login": "login",
    "email_masked": "email (masked)",
    "phone_masked": "phone (masked)",
    "client_address": "client",
    "duration_ms": "duration_ms",
    "error_codes": "error_codes",
    "errors": "errors",
    "user_agent": "user_agent",
}
SHEET_NAME = "registration request log"
EXCEL_EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system (after its leap-year bug)
COLUMN_WIDTHS = {"created_at": 26, "request_id": 34, "login": 20, "error_codes": 40, "errors": 60, "user_agent": 30}
# What makes a spreadsheet evaluate a cell, when a text begins with it (full-width forms too).
FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet could evaluate `text` as a formula (leading spaces do not protect it)."""
    stripped = text.lstrip(" ")
    return bool(stripped) and stripped[0] in FORMULA_TRIGGERS


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="milliseconds")
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    return str(value)


def _text_cell(value) -> str:
    """A value as a cell of the text export: one line, no tab, never a formula."""
    text = _text(value)
    if not isinstance(value, int | float | datetime) and is_formula_like(text):  # numbers stay numbers
        text = "'" + text
    # One record per line, one field per tab: neither may appear inside a value.
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _excel_serial(value: datetime) -> float:
    """Local time as Excel's day number: what write_datetime computes, at a fraction of its cost."""
    return (timezone.localtime(value).replace(tzinfo=None) - EXCEL_EPOCH) / timedelta(days=1)


def export_text_lines(*, reader: LogReader) -> Iterator[str]:
    """The log as `reader` may see it, tab-separated, a line per request, oldest first."""
    yield "\t".join(HEADERS[name] for name in reader.export_fields) + "\n"
    for row in registration_request_export_rows(reader=reader):
        yield "\t".join(_text_cell(value) for value in row) + "\n"


def export_xlsx_file(*, reader: LogReader) -> IO[bytes]:
    """The log as `reader` may see it, as a workbook in an anonymous temporary file at its start."""
    fields = reader.export_fields
    output = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    workbook = xlsxwriter.Workbook(
        output, {"constant_memory": True, "remove_timezone": True, "strings_to_formulas": False}
    )
    sheet = workbook.add_worksheet(SHEET_NAME)
    bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1})
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    # Excel's own mark of "text, not a formula" (quotePrefix): shown as written, never evaluated.
    quoted = workbook.add_format({"quote_prefix": True})
    for column, name in enumerate(fields):
        sheet.set_column(column, column, COLUMN_WIDTHS.get(name, 14))
        sheet.write_string(0, column, HEADERS[name], bold)
    sheet.freeze_panes(1, 0)
    row_number = 0
    for row_number, row in enumerate(registration_request_export_rows(reader=reader), start=1):
        for column, (name, value) in enumerate(zip(fields, row, strict=True)):
            if name == "created_at":
                sheet.write_number(row_number, column, _excel_serial(value), when)
            elif name in ("status_code", "duration_ms"):
                sheet.write_number(row_number, column, value)
            else:
                text = _text(value)
                sheet.write_string(row_number, column, text, quoted if is_formula_like(text) else None)
    sheet.autofilter(0, 0, max(row_number, 1), len(fields) - 1)
    workbook.close()
    output.seek(0)
    return output
