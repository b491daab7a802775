"""Orders and availability e-mails through the running processes, with a real SMTP server
on loopback, surviving an SMTP outage and a Redis outage (a private Redis of this test)."""

import psycopg
import pytest
import requests

from devtools.smtp_sink import MemorySink
from tests.smtp import text_body
from tests.stack import deployed_stack, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smtp():
    sink = MemorySink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def stack(smtp, redis_server):
    extra_env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "3",
        "EMAIL_RETRY_BASE": "1",
        "EMAIL_RETRY_MAX_DELAY": "2",
        "EMAIL_SWEEP_GRACE": "1",
        "CACHE_URL": f"{redis_server.url}/1",
    }
    with deployed_stack(redis_url=redis_server.url, redis_db=0, extra_env=extra_env) as stack:
        # An admin makes the e-mail sweeper run every 2 seconds instead of every minute.
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute(
                """UPDATE django_celery_beat_intervalschedule SET every = 2
                   WHERE id = (SELECT interval_id FROM django_celery_beat_periodictask
                               WHERE name = 'notifications: sweep overdue e-mails')"""
            )
            # The catalog: each test below uses serials of its own, so none sees another's orders.
            conn.execute(
                "INSERT INTO robots_robotmodel (code, name, created_at) VALUES ('R2', '', now()), ('C3', '', now())"
            )
            conn.execute(
                """INSERT INTO robots_robotversion (model_id, code, created_at)
                   SELECT id, v, now() FROM robots_robotmodel, unnest(ARRAY['D2', 'A1', 'B1', 'K2', 'PO']) AS v"""
            )
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        yield stack


@pytest.fixture(scope="module")
def api(stack):
    """Sessions for the shop (sales) and a production line, with their tokens."""
    return {"sales": stack.api_session("e2e-sales", "sales"), "line": stack.api_session("e2e-line", "production_line")}


def order(api, stack, email: str, serial: str) -> dict:
    response = api["sales"].post(
        f"{stack.web_url}/api/v1/orders/", json={"email": email, "robot_serial": serial}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()


def robot(api, stack, model: str, version: str) -> requests.Response:
    return api["line"].post(
        f"{stack.web_url}/api/v1/robots/",
        json={"model": model, "version": version, "created": "2023-10-03 23:59:12"},
        timeout=30,
    )


def mails_to(smtp, address: str) -> list:
    return [message for message in smtp.messages if message["To"] == address]


def test_order_then_robot_sends_exactly_one_e_mail_naming_model_and_version(api, stack, smtp):
    order(api, stack, "first@example.com", "R2-D2")

    assert robot(api, stack, "R2", "D2").status_code == 201

    wait_until(lambda: mails_to(smtp, "first@example.com"), timeout=30, what="the availability e-mail")
    [message] = mails_to(smtp, "first@example.com")
    assert "модели R2, версии D2" in text_body(message)


def test_robot_in_stock_then_order_sends_the_e_mail_at_once(api, stack, smtp):
    assert robot(api, stack, "C3", "PO").status_code == 201

    placed = order(api, stack, "instant@example.com", "C3-PO")

    assert placed["status"] == "notified"
    wait_until(lambda: mails_to(smtp, "instant@example.com"), timeout=30, what="the e-mail")
    assert "модели C3, версии PO" in text_body(mails_to(smtp, "instant@example.com")[0])


def test_two_orders_and_one_robot_notify_only_the_older_order(api, stack, smtp):
    older = order(api, stack, "older@example.com", "R2-A1")
    newer = order(api, stack, "newer@example.com", "R2-A1")

    robot(api, stack, "R2", "A1")

    wait_until(lambda: mails_to(smtp, "older@example.com"), timeout=30, what="the older order's e-mail")
    orders = api["sales"].get(f"{stack.web_url}/api/v1/orders/", params={"status": "waiting"}, timeout=10).json()
    assert newer["id"] in [o["id"] for o in orders["results"]]
    assert older["id"] not in [o["id"] for o in orders["results"]]
    assert mails_to(smtp, "newer@example.com") == []


def test_an_smtp_outage_delays_the_e_mail_but_loses_nothing(api, stack, smtp):
    order(api, stack, "patient@example.com", "R2-B1")
    smtp.stop()
    try:
        response = robot(api, stack, "R2", "B1")
        assert response.status_code == 201
        with psycopg.connect(stack.database_url) as conn:
            wait_until(
                lambda: (
                    conn.execute(
                        "SELECT attempts FROM notifications_email WHERE 'patient@example.com' = ANY(recipients)"
                    ).fetchone()[0]
                    >= 1
                ),
                timeout=30,
                what="a failed delivery attempt",
            )
    finally:
        smtp.start()

    wait_until(lambda: mails_to(smtp, "patient@example.com"), timeout=60, what="the e-mail after SMTP is back")
    assert len(mails_to(smtp, "patient@example.com")) == 1


def test_a_redis_outage_delays_the_e_mail_but_loses_nothing(api, stack, smtp, redis_server):
    order(api, stack, "resilient@example.com", "R2-K2")
    redis_server.stop()
    try:
        response = robot(api, stack, "R2", "K2")
        assert response.status_code == 201
    finally:
        redis_server.start()

    wait_until(lambda: mails_to(smtp, "resilient@example.com"), timeout=90, what="the e-mail after Redis is back")
    assert len(mails_to(smtp, "resilient@example.com")) == 1
