"""Log lines: quiet periodic jobs, and the request and task ids on every line."""

import logging

import pytest
from celery.app.trace import LOG_SUCCESS
from celery.worker.strategy import logger as received_logger

from config.schedule import PERIODIC_JOBS
from core.logging import ContextFilter

TICK = "mailings.tasks.mailings_tick_task"
EMAIL = "notifications.tasks.email_send_task"


def celery_line(logger_name: str, task: str, task_id: str = "0f0e") -> None:
    """What Celery's worker writes when a task succeeded (the "received" line has the same shape)."""
    context = {"id": task_id, "name": task, "return_value": "None", "runtime": 0.01, "args": "()", "kwargs": "{}"}
    logging.getLogger(logger_name).info(LOG_SUCCESS, context, extra={"data": context})


def beat_line(job_name: str, task: str) -> None:
    logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", job_name, task)


@pytest.fixture
def captured(caplog):
    """Records as a worker at LOG_LEVEL=INFO would write them (the capture itself takes all)."""
    loggers = [logging.getLogger(name) for name in ("", "celery")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
    caplog.handler.setLevel(logging.DEBUG)
    yield caplog
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def test_the_mailing_tick_and_the_sweepers_are_quiet_while_other_tasks_keep_their_info_lines(captured):
    assert TICK in {job.task for job in PERIODIC_JOBS}

    celery_line("celery.app.trace", TICK)
    celery_line(received_logger.name, "notifications.tasks.emails_sweep_task")
    beat_line("mailings: tick", TICK)
    celery_line("celery.app.trace", EMAIL, task_id="e-1")
    celery_line(received_logger.name, EMAIL, task_id="e-1")

    lines = [(record.levelname, record.getMessage()) for record in captured.records]
    assert len(lines) == 2
    assert all(level == "INFO" and EMAIL in message for level, message in lines)


def test_with_debug_on_the_periodic_lines_are_there_at_debug(captured):
    logging.getLogger("celery.app.trace").setLevel(logging.DEBUG)
    logging.getLogger("celery.beat").setLevel(logging.DEBUG)
    try:
        celery_line("celery.app.trace", TICK)
        beat_line("mailings: tick", TICK)
    finally:
        logging.getLogger("celery.app.trace").setLevel(logging.NOTSET)
        logging.getLogger("celery.beat").setLevel(logging.NOTSET)

    assert [record.levelname for record in captured.records] == ["DEBUG", "DEBUG"]


def test_a_failing_periodic_job_is_not_demoted(captured):
    logging.getLogger("celery.app.trace").error("Task %s[%s] raised unexpected: %s", TICK, "x", "boom")

    assert [record.levelname for record in captured.records] == ["ERROR"]


def test_every_line_carries_a_request_id_and_a_task_id():
    from django_guid import clear_guid, set_guid

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    ContextFilter().filter(record)
    assert (record.request_id, record.task_id) == ("-", "-")

    set_guid("3f2b8c1d9e4a4f6b8c7d2e1f0a9b8c7d")
    try:
        context = {"id": "task-1", "name": EMAIL}
        celery_record = logging.LogRecord("celery.app.trace", logging.INFO, __file__, 1, "m", None, None)
        celery_record.data = context
        ContextFilter().filter(celery_record)
    finally:
        clear_guid()
    assert (celery_record.request_id, celery_record.task_id) == ("3f2b8c1d9e4a4f6b8c7d2e1f0a9b8c7d", "task-1")
