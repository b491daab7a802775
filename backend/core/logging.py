"""Log context: the request id and the Celery task id on every line; quiet periodic jobs."""

import logging
from collections import OrderedDict

from celery import current_task
from django_guid import get_guid

NO_ID = "-"
# In a worker's consumer: the request ids of the tasks it received last (task id -> request id).
_received_request_ids: OrderedDict[str, str] = OrderedDict()
RECEIVED_REMEMBERED = 1000


def remember_request_id(task_id: str, request_id: str | None) -> None:
    """Called as a worker receives a task (config.celery.TracedRequest), before it logs so."""
    if request_id:
        _received_request_ids[task_id] = request_id
        while len(_received_request_ids) > RECEIVED_REMEMBERED:
            _received_request_ids.popitem(last=False)


class ContextFilter(logging.Filter):
    """Adds `request_id` and `task_id` to every record, so formatters can always print them.

    `request_id` is django-guid's id: the request's X-Request-ID in the web process, and in
    a worker the id that came with the task's message (a new one for a job beat started;
    for the consumer's "received" line, the one the message carried).
    `task_id` is the id of the Celery task the line is about: the task running now, or the
    one Celery's own "received"/"succeeded" lines name.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "task_id"):
            record.task_id = _task_id(record)
        if not hasattr(record, "request_id"):
            record.request_id = get_guid() or _received_request_ids.get(record.task_id) or NO_ID
        return True


def _task_id(record: logging.LogRecord) -> str:
    data = getattr(record, "data", None)  # Celery passes the task it logs about as `data`
    if isinstance(data, dict) and data.get("id"):
        return str(data["id"])
    return getattr(getattr(current_task, "request", None), "id", None) or NO_ID


class QuietPeriodicJobs(logging.Filter):
    """Demotes Celery's own lines about the periodic jobs (core.schedules.periodic_jobs) to DEBUG.

    Beat's "Sending due task", a worker's "Task ... received" and "Task ... succeeded" are
    what every tick of every periodic job writes (three lines every two seconds for the
    mailing tick alone); each job logs one INFO line itself when it did something. Lines
    about other tasks, and failures and retries of any task, keep their level.
    """

    def __init__(self, name: str = ""):
        super().__init__(name)
        self._task_names: frozenset[str] | None = None

    @property
    def task_names(self) -> frozenset[str]:
        if self._task_names is None:  # read on first use: the schedule needs the app registry
            from core.schedules import periodic_jobs

            self._task_names = frozenset(job.task for job in periodic_jobs())
        return self._task_names

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or _celery_task_name(record) not in self.task_names:
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _celery_task_name(record: logging.LogRecord) -> str | None:
    data = getattr(record, "data", None)
    if isinstance(data, dict):  # the worker's "received" and "succeeded" lines
        return data.get("name")
    if record.name == "celery.beat" and isinstance(record.args, tuple) and len(record.args) == 2:
        return str(record.args[1])  # "Scheduler: Sending due task %s (%s)", entry name and task
    return None
