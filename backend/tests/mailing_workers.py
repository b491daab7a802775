"""Watching a running mailing worker from end-to-end tests: Celery's own counts of the tasks it
took up, whether a mailing's senders are at rest, and a mailing's statistics through the API."""

from __future__ import annotations

from celery import Celery

from tests.stack import Stack, wait_until

TICK = "mailings.tasks.mailings_tick_task"
SENDER = "mailings.tasks.mailing_send_task"


def _inspect(stack: Stack):
    return Celery(broker=stack.broker_url).control.inspect(timeout=2)


def tasks_taken(stack: Stack, name: str) -> int:
    """How many tasks `name` the workers have taken up since they started (Celery's own count)."""
    stats = _inspect(stack).stats() or {}
    return sum(worker.get("total", {}).get(name, 0) for worker in stats.values())


def ticks_taken(stack: Stack) -> int:
    """How many beat ticks the mailing worker has taken up since it started."""
    return tasks_taken(stack, TICK)


def wait_ticks(stack: Stack, ticks: int, timeout: float = 30) -> None:
    """Waits until the mailing worker has taken up `ticks` more ticks; with at most two at a time
    (its concurrency), all but the last two of them are done."""
    seen = ticks_taken(stack)
    wait_until(lambda: ticks_taken(stack) >= seen + ticks, timeout=timeout, what=f"{ticks} more mailing ticks")


def senders_idle(stack: Stack, mailing_id: int) -> bool:
    """No sender of the mailing runs, waits on its countdown, or is taken up in the mailing worker."""
    inspect = _inspect(stack)
    tasks = []
    for answer in (inspect.active(), inspect.scheduled(), inspect.reserved()):
        for worker_tasks in (answer or {}).values():
            tasks += [task.get("request", task) for task in worker_tasks]  # scheduled ones wrap their request
    return not any(task.get("name") == SENDER and list(task.get("args") or []) == [mailing_id] for task in tasks)


def mailing_stats(stack: Stack, mailing_id: int) -> dict:
    """GET /api/v1/mailings/{id}/stats/ with the stack's API session (`stack.api`)."""
    response = stack.api.get(f"{stack.web_url}/api/v1/mailings/{mailing_id}/stats/", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()
