"""The weekly workbook, read back cell by cell, and the one query behind it."""

import io
import tempfile
from datetime import timedelta

import openpyxl
import pytest

from reports.selectors import ModelVersionCount, weekly_counts
from reports.tests.conftest import local
from reports.workbook import weekly_workbook_temporary_file, weekly_workbook_write

pytestmark = pytest.mark.django_db

SINCE = local(2023, 10, 2, 0, 0, 0)
UNTIL = local(2023, 10, 9, 0, 0, 0)


def rows(sheet) -> list[tuple]:
    return [tuple(cell for cell in row if cell is not None) for row in sheet.iter_rows(values_only=True)]


def read(since=SINCE, until=UNTIL) -> openpyxl.Workbook:
    with weekly_workbook_temporary_file(since=since, until=until) as handle:
        return openpyxl.load_workbook(handle)


@pytest.fixture
def week(make_robots):
    """A week with R2 in two versions, C3 in one, and robots just outside the window."""
    make_robots("R2-D2", SINCE, 2)  # the first instant of the window is in it
    make_robots("R2-D2", local(2023, 10, 5, 12, 0, 0), 3)
    make_robots("R2-A1", UNTIL - timedelta(microseconds=1), 1)  # the last instant is in it
    make_robots("R2-A1", local(2023, 10, 3, 23, 59, 12), 1)
    make_robots("C3-PO", local(2023, 10, 4, 8, 0, 0), 4)
    make_robots("R2-D2", SINCE - timedelta(microseconds=1), 5)  # just before: out
    make_robots("C3-PO", UNTIL, 6)  # the end is excluded: out
    make_robots("X5-Z9", local(2023, 9, 25, 10, 0, 0), 7)  # a model produced only the week before


def test_one_sheet_per_model_produced_and_then_the_summary(week):
    workbook = read()

    assert workbook.sheetnames == ["C3", "R2", "Сводка"]


def test_each_model_sheet_has_a_row_per_version_with_its_count(week):
    workbook = read()

    assert rows(workbook["R2"]) == [
        ("Модель", "Версия", "Количество за неделю"),
        ("R2", "A1", 2),
        ("R2", "D2", 5),
    ]
    assert rows(workbook["C3"]) == [("Модель", "Версия", "Количество за неделю"), ("C3", "PO", 4)]


def test_the_summary_totals_each_model_and_charts_them(week):
    summary = read()["Сводка"]

    assert [row[:2] for row in summary.iter_rows(min_col=1, max_col=2, values_only=True)] == [
        ("Модель", "Количество за неделю"),
        ("C3", 4),
        ("R2", 7),
        ("Всего", 11),
    ]
    assert summary["D1"].value == "Период с" and summary["E1"].value == "02.10.2023 00:00"
    assert summary["D2"].value == "по (не включая)" and summary["E2"].value == "09.10.2023 00:00"
    assert summary["E3"].value == "Europe/Moscow"
    [chart] = summary._charts
    assert chart.tagname == "barChart"
    assert chart.series[0].val.numRef.f == "Сводка!$B$2:$B$3"
    assert chart.series[0].cat.strRef.f == "Сводка!$A$2:$A$3"
    # The cached values, which viewers show without recalculating: the codes as text labels.
    assert [point.v for point in chart.series[0].cat.strRef.strCache.pt] == ["C3", "R2"]
    assert [float(point.v) for point in chart.series[0].val.numRef.numCache.pt] == [4, 7]


def test_an_empty_week_has_only_the_summary_saying_so(make_robots):
    make_robots("R2-D2", SINCE - timedelta(days=1), 3)

    workbook = read()

    assert workbook.sheetnames == ["Сводка"]
    summary = workbook["Сводка"]
    assert [row[:2] for row in summary.iter_rows(min_col=1, max_col=2, values_only=True)][:2] == [
        ("Модель", "Количество за неделю"),
        ("Всего", 0),
    ]
    assert summary["E5"].value == "За период роботов не произведено."
    assert summary._charts == []


def test_model_codes_that_differ_only_in_case_get_distinct_sheets(make_robots):
    make_robots("R2-D2", SINCE, 1)
    make_robots("r2-D2", SINCE, 2)

    workbook = read()

    assert sorted(workbook.sheetnames) == sorted(["R2", "r2 (2)", "Сводка"]) or sorted(workbook.sheetnames) == sorted(
        ["r2", "R2 (2)", "Сводка"]
    )


def test_the_counts_are_one_aggregate_query(week, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        counts = weekly_counts(since=SINCE, until=UNTIL)

    assert counts == [
        ModelVersionCount("C3", "PO", 4),
        ModelVersionCount("R2", "A1", 2),
        ModelVersionCount("R2", "D2", 5),
    ]
    sql = captured.captured_queries[0]["sql"]
    assert "COUNT(*)" in sql and "GROUP BY" in sql


def test_the_workbook_is_assembled_in_memory_without_temporary_files(week, tmp_path, monkeypatch):
    # Each temporary file costs a create and an unlink on the reports' disk (1-2 ms apiece on
    # the benchmark machine, ~30 files a workbook): none may be made.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    target = io.BytesIO()

    total = weekly_workbook_write(target, counts=weekly_counts(since=SINCE, until=UNTIL), since=SINCE, until=UNTIL)

    assert total == 11
    workbook = openpyxl.load_workbook(target)
    assert workbook.sheetnames == ["C3", "R2", "Сводка"]
    assert rows(workbook["R2"])[1:] == [("R2", "A1", 2), ("R2", "D2", 5)]
