"""Log context: the id of the request (or task) being handled, on every log line."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class ContextFilter(logging.Filter):
    """Adds `request_id` to every record, so formatters can always print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def bind_task_id(task_id: str | None = None, **kwargs) -> None:
    """Celery `task_prerun`: a worker's log lines carry the id of the task they are about."""
    request_id_var.set(task_id or "-")


def unbind_task_id(**kwargs) -> None:
    request_id_var.set("-")
