"""Operating the platform through its running processes: one request id from a robot's POST to
the e-mail it caused, quiet periodic jobs, Flower's task counts, and `make dev`'s SMTP sink
keeping every e-mail as an .eml file."""

import email
import json
import re
import socket
import sys
from email import policy

import psycopg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.stack import deployed_stack, free_port, wait_until

pytestmark = pytest.mark.e2e

TICK = "mailings.tasks.mailings_tick_task"


@pytest.fixture(scope="module")
def sink_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def stack(sink_port):
    extra_env = {
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink_port),
        "EMAIL_TIMEOUT": "3",
        "EMAIL_RETRY_BASE": "1",
        "EMAIL_RETRY_MAX_DELAY": "2",
        "LOG_LEVEL": "INFO",
    }
    with deployed_stack(extra_env=extra_env) as stack:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute("INSERT INTO robots_robotmodel (code, name, created_at) VALUES ('R2', '', now())")
            conn.execute(
                """INSERT INTO robots_robotversion (model_id, code, created_at)
                   SELECT id, v, now() FROM robots_robotmodel, unnest(ARRAY['D2', 'T1']) AS v"""
            )
        stack.start_web()
        stack.start_worker()
        stack.start_worker("mailing-worker", "mailing-worker")
        stack.start_beat()
        stack.start_nginx()
        stack.start_flower()
        yield stack


@pytest.fixture(scope="module")
def api(stack):
    return {"sales": stack.api_session("ops-sales", "sales"), "line": stack.api_session("ops-line", "production_line")}


def start_smtp_sink(stack, port: int) -> None:
    """The sink as `make dev` runs it, writing to the stack's own mail directory."""
    if "smtp-sink" in stack.processes:
        return
    stack.start(
        "smtp-sink",
        [sys.executable, "-m", "devtools.smtp_sink", "--port", str(port), "--dir", str(stack.work_dir / "mail")],
    )
    wait_until(
        lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, timeout=20, what="sink"
    )


def json_lines(stack, process: str) -> list[dict]:
    lines = []
    for line in stack.processes[process].log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def order_then_robot(stack, api, *, email_address: str, version: str) -> requests.Response:
    """An order waits for R2-<version>; the robot the line then reports is its (through nginx)."""
    ordered = api["sales"].post(
        f"{stack.nginx_url}/api/v1/orders/", json={"email": email_address, "robot_serial": f"R2-{version}"}, timeout=10
    )
    assert ordered.status_code == 201, ordered.text
    robot = api["line"].post(
        f"{stack.nginx_url}/api/v1/robots/",
        json={"model": "R2", "version": version, "created": "2024-01-15 10:00:00"},
        timeout=10,
    )
    assert robot.status_code == 201, robot.text
    return robot


def test_a_robot_for_a_waiting_order_leaves_an_eml_for_its_customer_in_the_mail_directory(stack, api, sink_port):
    start_smtp_sink(stack, sink_port)

    order_then_robot(stack, api, email_address="ann.sink@example.com", version="D2")

    def eml_for_ann():
        return [
            path for path in (stack.work_dir / "mail").glob("*.eml") if b"ann.sink@example.com" in path.read_bytes()
        ]

    [path] = wait_until(eml_for_ann, timeout=30, what="an .eml for the customer")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "ann.sink@example.com"
    assert "модели R2, версии D2" in message.get_body(preferencelist=("plain",)).get_content()
    summary = f"mail: {path.name}  to=ann.sink@example.com  subject={message['Subject']}"
    wait_until(  # printed right after the file is in place
        lambda: summary in stack.processes["smtp-sink"].log_path.read_text(), timeout=10, what="the sink's summary"
    )


def test_one_request_id_follows_a_robot_from_its_post_into_the_email_task_and_the_retry_it_caused(
    stack, api, sink_port
):
    stack.stop("smtp-sink")  # the SMTP server is away: the first attempt fails and enqueues a retry

    robot = order_then_robot(stack, api, email_address="bob.trace@example.com", version="T1")
    request_id = robot.headers["X-Request-ID"]  # nginx's $request_id

    # The web log has it: gunicorn's access line (written once the answer is sent, so it may
    # trail the client's read) and the allocation the POST did.
    access_line = rf'"POST /api/v1/robots/ HTTP/1.[01]" 201 .* request_id={request_id}'
    wait_until(
        lambda: re.search(access_line, stack.processes["web"].log_path.read_text()),
        timeout=10,
        what="gunicorn's access line for the POST",
    )
    assert any(line["request_id"] == request_id and "got robot" in line["message"] for line in json_lines(stack, "web"))

    def worker_lines(pattern: str) -> list[dict]:
        return [
            line
            for line in json_lines(stack, "worker")
            if line["request_id"] == request_id and re.search(pattern, line["message"])
        ]

    [failed] = wait_until(lambda: worker_lines(r"^email \d+ attempt 1 failed"), timeout=30, what="a failed attempt")
    start_smtp_sink(stack, sink_port)
    [sent] = wait_until(lambda: worker_lines(r"^email \d+ sent to 1 recipient"), timeout=30, what="the e-mail sent")

    # Two tasks (the retry was enqueued by the first), one request id, each line with its task id.
    assert failed["task_id"] != sent["task_id"]
    assert "-" not in (failed["task_id"], sent["task_id"])
    for task_id in (failed["task_id"], sent["task_id"]):

        def about_task(task_id=task_id) -> list[dict]:
            return [
                line for line in json_lines(stack, "worker") if task_id == line["task_id"] or task_id in line["message"]
            ]

        # Celery's own lines about the task: received (by the consumer) and, a moment after the
        # task's last line, its outcome.
        wait_until(
            lambda: any("succeeded" in line["message"] for line in about_task()), timeout=10, what="the outcome line"
        )
        assert any("received" in line["message"] for line in about_task())
        assert {line["request_id"] for line in about_task()} == {request_id}


def flower_counts(stack) -> dict[tuple[str, str], float]:
    text = requests.get(f"{stack.flower_url}/metrics", timeout=5).text
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "flower_events_total":
                key = (sample.labels["task"], sample.labels["type"])
                counts[key] = counts.get(key, 0) + sample.value
    return counts


def test_flower_shows_the_workers_and_counts_tasks_from_their_events(stack):
    from celery import Celery

    workers = requests.get(f"{stack.flower_url}/workers", timeout=10)
    Celery(broker=stack.broker_url).send_task("core.tasks.ping_task", args=["flower"], queue="default")

    assert workers.status_code == 200
    wait_until(
        lambda: flower_counts(stack).get(("core.tasks.ping_task", "task-succeeded"), 0) >= 1,
        timeout=60,
        what="Flower to count the ping task",
    )


def test_the_mailing_tick_runs_every_two_seconds_without_a_line_in_the_logs(stack):
    # Flower counts the ticks the mailing worker ran: wait for a few, then read the logs.
    wait_until(
        lambda: flower_counts(stack).get((TICK, "task-succeeded"), 0) >= 3, timeout=60, what="three mailing ticks"
    )

    for process in ("beat", "mailing-worker"):
        noisy = [line for line in json_lines(stack, process) if "mailings_tick_task" in line["message"]]
        assert noisy == [], process
