"""Weekly reports through the running processes: the nightly job fired by beat's own schedule
entry and run by a worker (file on disk, Report row, e-mail with the file in a real SMTP sink),
and downloads handed to nginx with X-Accel-Redirect."""

import hashlib
import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import psycopg
import pytest
import requests
from django.conf import settings

from devtools.smtp_sink import MemorySink
from tests.smtp import text_body
from tests.stack import deployed_stack, wait_until

pytestmark = pytest.mark.e2e

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MANAGERS = ["boss@r4c.example", "deputy@r4c.example"]
NIGHTLY_JOB = "reports: nightly weekly report"


def nightly_period() -> tuple[datetime, datetime]:
    zone = ZoneInfo(settings.TIME_ZONE)
    today = datetime.now(zone).date()
    return (
        datetime.combine(today - timedelta(days=7), time.min, tzinfo=zone),
        datetime.combine(today, time.min, tzinfo=zone),
    )


@pytest.fixture(scope="module")
def smtp():
    sink = MemorySink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def stack(smtp):
    extra_env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "3",
        "EMAIL_RETRY_BASE": "1",
        "EMAIL_RETRY_MAX_DELAY": "2",
        "MANAGER_EMAILS": ",".join(MANAGERS),
    }
    with deployed_stack(extra_env=extra_env) as stack:
        since, until = nightly_period()
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO robots_robotmodel (code, name, created_at) VALUES ('R2', '', now()), ('C3', '', now())"
            )
            conn.execute(
                """INSERT INTO robots_robotversion (model_id, code, created_at)
                   SELECT m.id, v.code, now() FROM robots_robotmodel m
                   JOIN (VALUES ('R2', 'D2'), ('R2', 'A1'), ('C3', 'PO')) AS v(model, code) ON v.model = m.code"""
            )
            for serial, created, count in [
                ("R2-D2", since + timedelta(hours=1), 3),
                ("R2-A1", until - timedelta(seconds=1), 2),
                ("C3-PO", since, 1),
                ("R2-D2", since - timedelta(seconds=1), 4),  # the week before: out
                ("C3-PO", until, 5),  # today: out
            ]:
                model, version = serial.split("-")
                conn.execute(
                    """INSERT INTO robots_robot (robot_version_id, serial, model, version, created, created_at)
                       SELECT v.id, %s, %s, %s, %s, now() FROM robots_robotversion v JOIN robots_robotmodel m
                       ON m.id = v.model_id AND m.code = %s AND v.code = %s, generate_series(1, %s)""",
                    [serial, model, version, created, model, version, count],
                )
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        stack.start_nginx()
        yield stack


@pytest.fixture(scope="module")
def manager(stack) -> requests.Session:
    return stack.api_session("e2e-boss", "manager")


def reports(stack) -> list[tuple]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT id, kind, status, file_path, sha256, size, robots FROM reports_report ORDER BY id"
        ).fetchall()


def test_the_nightly_job_stores_the_report_and_e_mails_it_to_managers_once(stack, smtp):
    # An admin makes the nightly entry due every second instead of at 00:30 (as in /admin/).
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        interval_id = conn.execute(
            "INSERT INTO django_celery_beat_intervalschedule (every, period) VALUES (1, 'seconds') RETURNING id"
        ).fetchone()[0]
        updated = conn.execute(
            "UPDATE django_celery_beat_periodictask SET interval_id = %s, crontab_id = NULL WHERE name = %s",
            [interval_id, NIGHTLY_JOB],
        ).rowcount
        conn.execute("UPDATE django_celery_beat_periodictasks SET last_update = now()")
    assert updated == 1

    wait_until(lambda: smtp.messages, timeout=60, what="the managers' e-mail")
    # Beat keeps firing the job every second: it still makes one report and one e-mail.
    wait_until(
        lambda: stack.processes["worker"].log_path.read_text().count("the nightly report for this period exists") >= 3,
        timeout=30,
        what="the nightly job to run again",
    )
    with psycopg.connect(stack.database_url, autocommit=True) as conn:  # the admin puts it back
        conn.execute("UPDATE django_celery_beat_periodictask SET enabled = false WHERE name = %s", [NIGHTLY_JOB])
        conn.execute("UPDATE django_celery_beat_periodictasks SET last_update = now()")

    [(report_id, kind, status, file_path, sha256, size, robots)] = reports(stack)
    since, until = nightly_period()
    assert (kind, status, robots) == ("nightly", "ready", 6)
    file_name = f"weekly-report_{since:%Y-%m-%d}_{until - timedelta(days=1):%Y-%m-%d}.xlsx"
    assert file_path == f"{report_id}/{file_name}"
    content = (stack.reports_dir / file_path).read_bytes()
    assert (len(content), hashlib.sha256(content).hexdigest()) == (size, sha256)
    assert [str(p.relative_to(stack.reports_dir)) for p in stack.reports_dir.rglob("*") if p.is_file()] == [
        file_path
    ]  # no temporary left behind
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["C3", "R2", "Сводка"]
    assert list(workbook["R2"].iter_rows(values_only=True)) == [
        ("Модель", "Версия", "Количество за неделю"),
        ("R2", "A1", 2),
        ("R2", "D2", 3),
    ]
    assert list(workbook["C3"].iter_rows(values_only=True))[1] == ("C3", "PO", 1)

    [message] = smtp.messages
    assert message["To"] == ", ".join(MANAGERS)
    [attachment] = [part for part in message.walk() if part.get_filename()]
    assert attachment.get_filename() == file_name
    assert attachment.get_payload(decode=True) == content
    assert "Всего произведено: 6" in text_body(message)


def test_a_stored_report_is_downloaded_through_nginx(stack, manager):
    wait_until(lambda: [r for r in reports(stack) if r[2] == "ready"], timeout=60, what="a ready report")
    report_id, _, _, file_path, *_ = next(r for r in reports(stack) if r[2] == "ready")

    response = manager.get(f"{stack.nginx_url}/api/v1/reports/{report_id}/download/", timeout=10)

    assert response.status_code == 200
    assert response.content == (stack.reports_dir / file_path).read_bytes()
    assert response.headers["Content-Type"] == XLSX
    assert response.headers["Content-Disposition"].startswith('attachment; filename="weekly-report_')
    assert "X-Accel-Redirect" not in response.headers
    # Behind nginx Django only names the file; the bytes come from nginx.
    direct = manager.get(f"{stack.web_url}/api/v1/reports/{report_id}/download/", timeout=10)
    assert direct.headers["X-Accel-Redirect"] == f"/protected-reports/{file_path}"
    assert direct.content == b""
    # The internal location is not reachable from outside, and the download needs a manager.
    assert requests.get(f"{stack.nginx_url}/protected-reports/{file_path}", timeout=10).status_code == 404
    assert requests.get(f"{stack.nginx_url}/api/v1/reports/{report_id}/download/", timeout=10).status_code == 401


def test_a_report_asked_for_through_the_api_is_built_by_the_worker(stack, manager):
    since, until = nightly_period()
    accepted = manager.post(
        f"{stack.nginx_url}/api/v1/reports/",
        json={"since": since.isoformat(), "until": until.isoformat()},
        headers={"Idempotency-Key": "e2e-report-1"},
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text

    ready = wait_until(
        lambda: (
            (body := manager.get(f"{stack.nginx_url}{accepted.headers['Location']}", timeout=10).json())["status"]
            == "ready"
            and body
        ),
        timeout=30,
        what="the report to be built",
    )
    download = manager.get(f"{stack.nginx_url}{ready['download_url']}", timeout=10)

    assert ready["robots"] == 6
    assert hashlib.sha256(download.content).hexdigest() == ready["sha256"]


def test_the_weekly_workbook_is_built_on_request(stack, manager):
    response = manager.get(f"{stack.nginx_url}/api/v1/reports/weekly.xlsx", timeout=30)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[-1] == "Сводка"
