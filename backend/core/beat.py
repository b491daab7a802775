"""The beat scheduler: django-celery-beat's database scheduler, with a liveness heartbeat."""

import os
from pathlib import Path

from django_celery_beat.schedulers import DatabaseScheduler

HEARTBEAT_FILE = Path(os.environ.get("BEAT_HEARTBEAT_FILE", "/tmp/r4c-beat-heartbeat"))  # noqa: S108


class HeartbeatScheduler(DatabaseScheduler):
    """Touches HEARTBEAT_FILE on every tick (at least every few seconds), so a container
    healthcheck can tell a live beat from a stuck one by the file's age."""

    def tick(self, *args, **kwargs):
        HEARTBEAT_FILE.touch()
        return super().tick(*args, **kwargs)
