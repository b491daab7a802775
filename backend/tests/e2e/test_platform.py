"""The foundation end to end: through nginx to gunicorn, and through Redis to a worker."""

import psycopg
import pytest
import requests
from celery import Celery

from tests.stack import wait_until

pytestmark = pytest.mark.e2e


def test_ready_is_green_through_nginx(stack):
    response = requests.get(f"{stack.nginx_url}/health/ready", timeout=10)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]
    # the security headers nginx adds to every answer, once each
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Server"] == "nginx"  # no version


def test_a_callers_uuid_request_id_is_kept_through_nginx_anything_else_is_replaced(stack):
    mine = "9b34ceef-25fd-4551-8fcb-aa40988d3dd5"

    kept = requests.get(f"{stack.nginx_url}/health/live", headers={"X-Request-ID": mine}, timeout=10)
    replaced = requests.get(f"{stack.nginx_url}/health/live", headers={"X-Request-ID": "not-a-uuid"}, timeout=10)

    assert kept.headers["X-Request-ID"] == mine
    assert replaced.headers["X-Request-ID"] not in ("", "not-a-uuid")


def test_natively_nginx_listens_on_the_loopback_only(stack):
    rendered = (stack.work_dir / "nginx" / "conf.d" / "default.conf").read_text()

    assert f"listen 127.0.0.1:{stack.nginx_port};" in rendered


def test_swagger_ui_renders_in_chromium_and_lists_the_operations(stack, browser):
    page = browser.new_page()
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    try:
        page.goto(f"{stack.nginx_url}/docs/", wait_until="networkidle")
        page.wait_for_selector(".opblock", timeout=30_000)
        operations = page.locator(".opblock-summary-path").all_inner_texts()
    finally:
        page.close()

    assert "/api/v1/auth/token/" in operations
    assert "/api/v1/auth/me/" in operations
    assert console_errors == []


def test_static_files_are_served_by_nginx(stack):
    response = requests.get(f"{stack.nginx_url}/static/admin/css/base.css", timeout=10)

    assert response.status_code == 200
    assert "Cache-Control" in response.headers
    assert "gunicorn" not in response.headers.get("Server", "").lower()


def test_a_celery_task_makes_a_round_trip_through_redis(stack):
    client = Celery(broker=stack.broker_url, backend=stack.broker_url)

    result = client.send_task("core.tasks.ping_task", args=["hello"], queue="default")

    assert result.get(timeout=30) == "hello"
    # the worker's log lines about the task carry its id
    wait_until(
        lambda: f'"task_id": "{result.id}"' in stack.processes["worker"].log_path.read_text(),
        timeout=10,
        what="a worker log line with the task id",
    )


def test_beat_reads_the_synced_schedule_and_dispatches_due_jobs_to_a_worker(stack):
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM django_celery_beat_periodictask")}
        # An admin adds a job due every second; beat notices the change and sends it.
        interval_id = conn.execute(
            "INSERT INTO django_celery_beat_intervalschedule (every, period) VALUES (1, 'seconds') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            """INSERT INTO django_celery_beat_periodictask
               (name, task, args, kwargs, enabled, interval_id, total_run_count, date_changed, description,
                one_off, headers, priority, expire_seconds)
               VALUES ('e2e ping', 'core.tasks.ping_task', '["from-beat"]', '{}', true, %s, 0, now(), '',
                       false, '{}', NULL, NULL)""",
            [interval_id],
        )
        conn.execute("UPDATE django_celery_beat_periodictasks SET last_update = now()")

    assert "core: purge expired idempotency keys" in names
    wait_until(
        lambda: "from-beat" in stack.processes["worker"].log_path.read_text(),
        timeout=60,
        what="the worker to run the job beat sent",
    )
    assert (stack.work_dir / "beat-heartbeat").exists()


def test_metrics_are_served_by_the_backend_but_not_through_nginx(stack):
    direct = requests.get(f"{stack.web_url}/metrics", timeout=10)
    proxied = requests.get(f"{stack.nginx_url}/metrics", timeout=10)

    assert direct.status_code == 200
    assert "django_http_requests_total_by_method_total" in direct.text
    assert proxied.status_code == 404


def test_reports_are_not_reachable_directly_through_nginx(stack):
    (stack.reports_dir / "secret.xlsx").write_bytes(b"x")

    response = requests.get(f"{stack.nginx_url}/protected-reports/secret.xlsx", timeout=10)

    assert response.status_code == 404


def test_an_oversized_body_is_refused_by_nginx_with_json(stack):
    response = requests.post(
        f"{stack.nginx_url}/api/v1/auth/token/",
        data=b"x" * (5 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_a_request_line_over_the_servers_limit_is_a_414_as_the_schema_documents(stack):
    query = "page_size=" + "a" * 9000

    through_nginx = requests.get(f"{stack.nginx_url}/api/v1/robots/?{query}", timeout=10)
    to_gunicorn = requests.get(f"{stack.web_url}/api/v1/robots/?{query}", timeout=10)
    schema = requests.get(f"{stack.web_url}/api/schema/?format=json", timeout=10).json()

    assert (through_nginx.status_code, to_gunicorn.status_code) == (414, 414)
    assert "text/html" in to_gunicorn.headers["Content-Type"]
    assert schema["paths"]["/api/v1/robots/"]["get"]["responses"]["414"] == {"$ref": "#/components/responses/Error414"}
    assert "text/html" in schema["components"]["responses"]["Error414"]["content"]
