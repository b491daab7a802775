"""Celery's reliability settings and routing, as the workers load them; the schedule's tasks exist."""

import pytest

from config.celery import app
from core.schedules import periodic_jobs

ROUTED = {
    "notifications.tasks.email_send_task": "notifications",
    "reports.tasks.report_build_task": "reports",
    "mailings.tasks.mailing_send_task": "mailings",
    "mailings.tasks.mailing_start_task": "mailings",
    "registrations.tasks.registration_request_log_replay_task": "default",
    "core.tasks.ping_task": "default",
}


@pytest.fixture(scope="module", autouse=True)
def _tasks_imported():
    app.loader.import_default_modules()  # what a worker imports at start: every app's tasks


def test_tasks_are_acknowledged_late_and_requeued_when_a_worker_dies():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit > 0


@pytest.mark.parametrize(("task", "queue"), sorted(ROUTED.items()))
def test_each_app_has_its_own_queue(task, queue):
    assert {queue.name for queue in app.conf.task_queues} == {"default", "notifications", "reports", "mailings"}
    assert task in app.tasks, f"{task} is no registered task"
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_scheduled_job_names_a_registered_task():
    missing = sorted({job.task for job in periodic_jobs()} - set(app.tasks))

    assert missing == []


def test_beat_reads_its_schedule_from_the_database():
    assert app.conf.beat_scheduler == "core.beat:HeartbeatScheduler"
