"""The customer import through the running processes: a file larger than nginx's general body
limit goes through the import's own location, a worker is killed (SIGKILL) mid-file, and the
sweeper hands the import to a new worker, which goes on from the last committed batch: every
row is created exactly once."""

import signal

import psycopg
import pytest
import requests

from tests.stack import deployed_stack, wait_until

pytestmark = pytest.mark.e2e

ROWS = 36_000  # ~4.5 MB: over NGINX_MAX_BODY_SIZE (4m), under MAX_IMPORT_BYTES


@pytest.fixture(scope="module")
def stack():
    extra_env = {
        "IMPORT_BATCH_SIZE": "500",
        "IMPORT_LEASE_SECONDS": "3",
        "IMPORT_SWEEP_GRACE": "1",
        "WORKER_CONCURRENCY": "1",
    }
    with deployed_stack(extra_env=extra_env) as stack:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            # An admin makes the import sweeper run every 2 seconds instead of every 30.
            conn.execute(
                """UPDATE django_celery_beat_intervalschedule SET every = 2 WHERE id IN (
                       SELECT interval_id FROM django_celery_beat_periodictask
                       WHERE name = 'customers: sweep imports')"""
            )
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        stack.start_nginx()
        yield stack


def csv_text(rows: int) -> bytes:
    lines = ["phone_number,email,operator_code,tag,timezone"]
    tag = "a-tag-as-long-as-a-column-allows-which-makes-the-file-larger-"  # 62 characters
    lines += [f"7912{i:07d},customer.number.{i}@example.com,,{tag}{i % 10},Europe/Moscow" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.timeout(900)
def test_an_import_survives_a_worker_kill_and_creates_every_row_once(stack):
    api = stack.api_session("importer", "marketing")
    body = csv_text(ROWS)
    assert len(body) > 4 * 1024 * 1024

    accepted = api.post(
        f"{stack.nginx_url}/api/v1/customers/import/", files={"file": ("big.csv", body, "text/csv")}, timeout=120
    )
    assert accepted.status_code == 202, accepted.text
    location = f"{stack.nginx_url}{accepted.headers['Location']}"
    assert accepted.json()["total"] == ROWS

    def poll() -> dict:
        return api.get(location, timeout=10).json()

    # Progress is visible while it runs; the worker is killed after a few committed batches.
    running = wait_until(
        lambda: (job := poll())["status"] == "running" and job["processed"] >= 1_500 and job,
        timeout=180,
        interval=0.05,
        what="the import to be running with committed batches",
    )
    assert 0 < running["processed"] < ROWS
    stack.stop("worker", sig=signal.SIGKILL)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        committed = conn.execute("SELECT processed FROM customers_customerimport").fetchone()[0]
    assert committed < ROWS, "the worker finished before it was killed: nothing was proved"
    stack.start_worker()

    done = wait_until(
        lambda: (job := poll())["status"] in ("done", "failed") and job, timeout=600, interval=0.2, what="done"
    )

    assert done["status"] == "done", done
    assert done["attempts"] >= 2  # the killed worker's attempt and the one that took over
    # Gone on from the last committed batch: no row was read twice (it would count as unchanged).
    assert (done["total"], done["processed"], done["created"]) == (ROWS, ROWS, ROWS)
    assert (done["updated"], done["unchanged"], done["failed"], done["errors"]) == (0, 0, 0, [])
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM customers_customer").fetchone()[0] == ROWS

    # The same file again changes nothing.
    again = api.post(
        f"{stack.nginx_url}/api/v1/customers/import/", files={"file": ("big.csv", body, "text/csv")}, timeout=120
    )
    location = f"{stack.nginx_url}{again.headers['Location']}"
    done = wait_until(lambda: (job := poll())["status"] == "done" and job, timeout=600, interval=0.2, what="again")
    assert (done["created"], done["updated"], done["unchanged"]) == (0, 0, ROWS)


def test_nginx_passes_imports_to_the_api_and_refuses_other_bodies_over_its_own_limit(stack):
    api = stack.api_session("importer", "marketing")
    over = 5 * 1024 * 1024
    response = api.post(f"{stack.nginx_url}/api/v1/customers/", data=b"x" * over, timeout=60)
    assert response.status_code == 413
    response = requests.post(
        f"{stack.nginx_url}/api/v1/customers/import/",
        data=b"x" * 100,
        headers={"Content-Type": "text/csv", **api.headers},
        timeout=60,
    )
    assert response.status_code == 415  # through nginx to the API, which wants multipart
