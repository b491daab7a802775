"""Outbox tasks: thin; the rules are in notifications.services (imported in each task's body)."""

from celery import shared_task


@shared_task(acks_late=True)
def email_send_task(email_id: int) -> None:
    from notifications.services import email_deliver

    delay = email_deliver(email_id=email_id)
    if delay is not None:
        # The row already says when; this message is only the wake-up (the sweeper is the backstop).
        email_send_task.apply_async((email_id,), countdown=delay)


@shared_task
def emails_sweep_task() -> int:
    from notifications.services import emails_sweep

    return emails_sweep()
