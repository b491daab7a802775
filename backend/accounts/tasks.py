"""Account tasks: thin; the rules are in accounts.services."""

from celery import shared_task

from accounts.services import registration_spool_replay


@shared_task
def registration_spool_replay_task() -> int:
    """Writes useradd log entries spooled during a database outage into the log table."""
    return registration_spool_replay()
