"""The report APIs: the workbook now, ask-poll-download, permissions, errors."""

import io
from datetime import timedelta

import openpyxl
import pytest
from django.utils import timezone

from reports.models import Report, ReportStatus
from reports.services import report_build, report_path
from reports.tests.conftest import local

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def build(response) -> Report:
    """What the worker does with the report the API accepted."""
    report_build(report_id=response.json()["id"])
    return Report.objects.get(pk=response.json()["id"])


def test_the_weekly_workbook_counts_the_last_seven_days_up_to_now(manager, make_robots):
    now = timezone.now()
    make_robots("R2-D2", now - timedelta(days=1), 2)
    make_robots("R2-A1", now - timedelta(days=6, hours=23), 1)
    make_robots("R2-D2", now - timedelta(days=7, minutes=1), 4)  # 8 days ago: out

    response = manager.get("/api/v1/reports/weekly.xlsx")

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    today = timezone.localdate()
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="weekly-report_{today - timedelta(days=7):%Y-%m-%d}_'
    )
    assert response["Content-Disposition"].endswith('.xlsx"')
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert workbook.sheetnames == ["R2", "Сводка"]
    assert list(workbook["R2"].iter_rows(values_only=True)) == [
        ("Модель", "Версия", "Количество за неделю"),
        ("R2", "A1", 1),
        ("R2", "D2", 2),
    ]


def test_a_client_asking_for_xlsx_still_gets_errors_as_json(api_client):
    response = api_client.get("/api/v1/reports/weekly.xlsx", HTTP_ACCEPT=XLSX)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("role", ["sales", "marketing", "production_line"])
def test_only_managers_use_reports(client_for_role, role):
    client = client_for_role(role)

    assert client.get("/api/v1/reports/weekly.xlsx").status_code == 403
    assert client.get("/api/v1/reports/").status_code == 403
    assert client.post("/api/v1/reports/", {}).status_code == 403


def test_ask_poll_then_download_a_report(manager, make_robots, settings):
    settings.REPORTS_ACCEL_REDIRECT_PREFIX = ""  # development: Django sends the file
    make_robots("C3-PO", local(2023, 10, 3, 12, 0, 0), 3)

    accepted = manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00", "until": "2023-10-09 00:00:00"})

    assert accepted.status_code == 202
    body = accepted.json()
    assert accepted["Location"] == f"/api/v1/reports/{body['id']}/"
    assert (body["status"], body["kind"], body["download_url"], body["requested_by"]) == (
        "pending",
        "on_demand",
        None,
        "boss",
    )
    assert body["period_start"] == "2023-10-02T00:00:00+03:00"
    assert manager.get(f"/api/v1/reports/{body['id']}/download/").json()["code"] == "report_not_ready"

    report = build(accepted)
    polled = manager.get(accepted["Location"]).json()
    download = manager.get(polled["download_url"])

    assert polled["status"] == "ready"
    assert (polled["robots"], polled["size"], polled["sha256"]) == (3, report.size, report.sha256)
    assert download.status_code == 200
    assert download["Content-Type"] == XLSX
    assert download["Content-Disposition"] == 'attachment; filename="weekly-report_2023-10-02_2023-10-08.xlsx"'
    assert b"".join(download.streaming_content) == report_path(report).read_bytes()


def test_behind_nginx_the_download_is_handed_over_with_x_accel_redirect(manager, settings):
    settings.REPORTS_ACCEL_REDIRECT_PREFIX = "/protected-reports/"
    report = build(manager.post("/api/v1/reports/", {"since": "2023-10-02T00:00:00+03:00"}))

    response = manager.get(f"/api/v1/reports/{report.pk}/download/")

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-reports/{report.pk}/weekly-report_2023-10-02_2023-10-08.xlsx"
    assert response.content == b""
    assert response["Content-Disposition"] == 'attachment; filename="weekly-report_2023-10-02_2023-10-08.xlsx"'


def test_with_no_period_the_report_covers_the_last_seven_days(manager):
    body = manager.post("/api/v1/reports/", {}).json()

    report = Report.objects.get(pk=body["id"])
    assert report.period_end - report.period_start == timedelta(days=7)
    assert abs((timezone.now() - report.period_end).total_seconds()) < 5


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"since": "2023-10-09 00:00:00", "until": "2023-10-02 00:00:00"}, "until"),
        ({"until": "2999-01-01 00:00:00"}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"email_managers": "perhaps"}, "email_managers"),
    ],
)
def test_a_bad_period_is_a_400_naming_the_field(manager, payload, field):
    response = manager.post("/api/v1/reports/", payload)

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Report.objects.exists()


def test_a_retry_with_the_same_idempotency_key_asks_once(manager):
    first = manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"}, HTTP_IDEMPOTENCY_KEY="k-1")
    again = manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"}, HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert Report.objects.count() == 1


def test_downloads_of_failed_pruned_missing_and_unknown_reports(manager):
    failed = build(manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"}))
    Report.objects.filter(pk=failed.pk).update(status=ReportStatus.FAILED, last_error="OSError: disk full")
    pruned = build(manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"}))
    Report.objects.filter(pk=pruned.pk).update(status=ReportStatus.EXPIRED)
    missing = build(manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"}))
    report_path(missing).unlink()

    assert manager.get(f"/api/v1/reports/{failed.pk}/download/").json()["code"] == "report_failed"
    assert manager.get(f"/api/v1/reports/{pruned.pk}/download/").status_code == 410
    assert manager.get(f"/api/v1/reports/{missing.pk}/download/").json()["code"] == "report_expired"
    assert manager.get("/api/v1/reports/999999/download/").status_code == 404


def test_the_list_is_filtered_paginated_and_costs_a_fixed_number_of_queries(manager, django_assert_max_num_queries):
    for _ in range(3):
        build(manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"}))
    manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"})

    with django_assert_max_num_queries(6):
        listed = manager.get("/api/v1/reports/", {"status": "ready"})

    assert listed.status_code == 200
    assert listed.json()["count"] == 3
    assert all(row["download_url"] == f"/api/v1/reports/{row['id']}/download/" for row in listed.json()["results"])
    assert manager.get("/api/v1/reports/", {"status": "pending"}).json()["count"] == 1


def test_the_admin_lists_reports_with_a_download_link(admin_client, manager):
    report = build(manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"}))

    page = admin_client.get("/admin/reports/report/")

    assert page.status_code == 200
    assert f'href="/api/v1/reports/{report.pk}/download/"' in page.content.decode()


def test_an_admin_builds_failed_reports_again_from_the_list(admin_client, manager, django_capture_on_commit_callbacks):
    report = build(manager.post("/api/v1/reports/", {"since": "2023-10-02 00:00:00"}))
    Report.objects.filter(pk=report.pk).update(status=ReportStatus.FAILED, last_error="OSError: disk full")

    with django_capture_on_commit_callbacks() as callbacks:
        page = admin_client.post(
            "/admin/reports/report/", {"action": "retry", "_selected_action": [report.pk]}, follow=True
        )

    assert page.status_code == 200
    assert "1 report(s) queued again." in page.content.decode()
    assert len(callbacks) == 1
    report.refresh_from_db()
    assert (report.status, report.attempts, report.last_error) == (ReportStatus.PENDING, 0, "")
