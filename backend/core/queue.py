"""Enqueueing background work: a committed row first, a Celery message second (DESIGN.md §2)."""

import logging

from celery import Task
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args, **kwargs) -> None:
    """Sends `task` once the current transaction commits; a broker outage is logged, not raised.

    The row the task works on is already committed, and a periodic sweeper picks up rows
    whose message was lost, so a failed publish only delays the work.
    """

    def publish() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:  # the broker is down or refused: the sweeper will re-enqueue
            logger.warning("could not enqueue %s%s; it will be swept up later", task.name, args, exc_info=True)

    transaction.on_commit(publish)
