"""Customer import files read as rows, in constant memory: CSV (UTF-8, header row) through the
csv module, XLSX (first sheet, header row) through openpyxl's read-only mode.

A problem of the file as a whole (not CSV or XLSX, no header, another encoding, a NUL byte)
is an ImportFileError, which the upload answers with a 400; a problem of one row is the row's
(customers.services checks each row's values).
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from customers.models import CustomerImportFormat

COLUMNS = ("phone_number", "email", "operator_code", "tag", "timezone")
KEY_COLUMNS = ("phone_number", "email")
# The longest cell worth reading: beyond any column's limit, so it is refused as a row error.
MAX_CELL_CHARACTERS = 1000
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message says why, for the uploader."""


@dataclass(frozen=True)
class Row:
    """One data row: its number as a spreadsheet shows it (the header is row 1), the values
    of the known columns (stripped strings, "" for an empty cell) and how many cells lie
    beyond the header's columns while holding something."""

    number: int
    values: dict[str, str]
    extra_cells: int = 0


def file_format_detect(path: Path) -> str:
    """CustomerImportFormat.XLSX or CSV, from the file's first bytes; raises ImportFileError for
    another kind of file (a legacy .xls, a zip that is no workbook, an empty file)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        raise ImportFileError("The file is empty.")
    if head.startswith(OLE_MAGIC):
        raise ImportFileError("Legacy .xls workbooks are not accepted; save the sheet as XLSX or CSV (UTF-8).")
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                if "xl/workbook.xml" not in archive.namelist():
                    raise ImportFileError("The file is a zip archive but no XLSX workbook.")
        except zipfile.BadZipFile as exc:
            raise ImportFileError(f"The XLSX file is damaged: {exc}.") from None
        return CustomerImportFormat.XLSX
    return CustomerImportFormat.CSV


def _header(cells: list[str]) -> list[str | None]:
    """The column each cell position holds (None: a blank header cell, its column ignored if
    empty); raises ImportFileError for unknown or repeated names, or no phone/e-mail column."""
    names = [cell.strip().lower() for cell in cells]
    unknown = sorted({name for name in names if name and name not in COLUMNS})
    if unknown:
        raise ImportFileError(
            f"The first row must be the header, naming columns among {', '.join(COLUMNS)}; "
            f"unknown: {', '.join(repr(name[:40]) for name in unknown[:5])}."
        )
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise ImportFileError(f"The header names {', '.join(repeated)} more than once.")
    if not any(name in KEY_COLUMNS for name in names):
        raise ImportFileError("The header must name phone_number or email (or both).")
    return [name or None for name in names]


def _rows(records: Iterator[tuple[int, list[str]]]) -> Iterator[Row]:
    """Rows from (number, cells) records, the first non-blank record being the header;
    blank records are skipped."""
    columns = None
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns = _header(cells)
            continue
        values = dict.fromkeys(name for name in columns if name)
        extra = 0
        for index, cell in enumerate(cells):
            name = columns[index] if index < len(columns) else None
            if name is None:
                extra += bool(cell.strip())
            else:
                values[name] = cell.strip()[:MAX_CELL_CHARACTERS]
        yield Row(number=number, values={name: value or "" for name, value in values.items()}, extra_cells=extra)
    if columns is None:
        raise ImportFileError("The file has no header row (and no data).")


# --- CSV ------------------------------------------------------------------------------
def _csv_lines(handle) -> Iterator[str]:
    """The file's lines, refusing a NUL byte (a binary file, not text) and bytes that are not
    UTF-8, with the line where they are."""
    number = 0
    try:
        for number, line in enumerate(handle, start=1):
            if "\x00" in line:
                raise ImportFileError(f"Line {number} holds a NUL byte: the file is not CSV text.")
            yield line
    except UnicodeDecodeError:
        raise ImportFileError(f"The file is not UTF-8 text (near line {number + 1}); save it as CSV UTF-8.") from None


def _csv_delimiter(path: Path) -> str:
    """`;` when the header line holds semicolons and no commas (spreadsheets saving CSV in
    locales with a decimal comma), else `,`."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        first = handle.readline()
    return ";" if ";" in first and "," not in first else ","


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    # utf-8-sig: a byte order mark (Excel's "CSV UTF-8") is not part of the first header name.
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(_csv_lines(handle), delimiter=_csv_delimiter(path), strict=False)
        try:
            # The row as a spreadsheet numbers it: records, not lines (a quoted cell may hold a line break).
            yield from enumerate(reader, start=1)
        except csv.Error as exc:
            raise ImportFileError(f"The CSV is malformed near line {reader.line_num}: {exc}.") from None


# --- XLSX -----------------------------------------------------------------------------
def _cell_text(value) -> str:
    """A cell as the text typed into it: whole numbers without '.0' (a phone typed as a number
    is 79123456789.0 to openpyxl), a formula as its '=...' source (refused per row)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@contextmanager
def _xlsx_workbook(path: Path):
    """The workbook, read-only (rows are streamed from the archive), closed afterwards."""
    from openpyxl import load_workbook  # imported here: only imports need it

    with open(path, "rb") as handle:  # a file object: openpyxl would refuse the name's suffix
        try:
            # data_only=False: a formula is read as its source, so it is refused, not its cached value trusted.
            workbook = load_workbook(handle, read_only=True, data_only=False)
        except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign workbook
            raise ImportFileError(f"The XLSX workbook cannot be read: {type(exc).__name__}.") from None
        try:
            if not workbook.worksheets:
                raise ImportFileError("The XLSX workbook has no sheet.")
            yield workbook
        finally:
            workbook.close()


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    with _xlsx_workbook(path) as workbook:
        try:
            for number, cells in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1):
                yield number, [_cell_text(value) for value in cells]
        except ImportFileError:
            raise
        except Exception as exc:
            raise ImportFileError(f"The XLSX sheet cannot be read: {type(exc).__name__}.") from None


def import_file_rows(path: Path, file_format: str) -> Iterator[Row]:
    """The data rows of a stored import file, in order, read lazily (constant memory). Raises
    ImportFileError (while iterating) for a problem of the file as a whole."""
    records = _xlsx_records(path) if file_format == CustomerImportFormat.XLSX else _csv_records(path)
    return _rows(records)


def import_file_size_rows(path: Path, file_format: str, *, limit: int) -> int | None:
    """How many data rows the file holds, counted up to `limit` + 1 (enough to refuse it),
    after checking its header, encoding and bytes; raises ImportFileError. An XLSX with a
    recorded sheet size is not read through: its size (header and blank rows included, so
    an upper bound) is returned instead, and the import itself stops at the limit."""
    if file_format == CustomerImportFormat.XLSX:
        with _xlsx_workbook(path) as workbook:
            recorded = workbook.worksheets[0].max_row
        if recorded:
            with closing(import_file_rows(path, file_format)) as rows:
                next(rows, None)  # the header is checked now, not in the worker
            return max(recorded - 1, 0)
    count = 0
    for _row in import_file_rows(path, file_format):
        count += 1
        if count > limit:
            break
    return count
