"""The beat scheduler: django-celery-beat's database scheduler, with a liveness heartbeat,
and a shutdown that cannot deadlock."""

import os
from pathlib import Path

from celery import platforms
from celery.signals import beat_init
from django_celery_beat.schedulers import DatabaseScheduler

HEARTBEAT_FILE = Path(os.environ.get("BEAT_HEARTBEAT_FILE", "/tmp/r4c-beat-heartbeat"))  # noqa: S108


class HeartbeatScheduler(DatabaseScheduler):
    """Touches HEARTBEAT_FILE on every tick (at least every few seconds), so a container
    healthcheck can tell a live beat from a stuck one by the file's age."""

    def tick(self, *args, **kwargs):
        HEARTBEAT_FILE.touch()
        return super().tick(*args, **kwargs)


def _exit(signum, frame):
    raise SystemExit


@beat_init.connect
def exit_on_signal_and_save_after(sender, **kwargs) -> None:
    """Replaces the SIGINT/SIGTERM handler celery's beat installs, which writes the schedule
    to the database inside the handler: when the signal lands while a query is in flight, the
    handler waits for the psycopg connection's lock that the interrupted query holds, and beat
    never exits (Ctrl-C in `make dev`; `tests/e2e/test_beat_shutdown.py`). This handler only
    raises SystemExit; `celery.beat.Service.start()` then writes the schedule in its `finally`,
    once the query has unwound."""
    platforms.signals.update(SIGTERM=_exit, SIGINT=_exit)
