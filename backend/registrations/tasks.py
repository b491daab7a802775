"""Registration tasks: thin; the rules are in registrations.services (imported in the task's body)."""

from celery import shared_task


@shared_task
def registration_request_log_replay_task() -> int:
    """Writes registration request log entries spooled during a database outage into the log table."""
    from registrations.services import registration_request_log_replay

    return registration_request_log_replay()
