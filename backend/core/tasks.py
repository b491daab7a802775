"""Tasks every app relies on: the broker round trip check and key expiry (thin: the rules are in
core.idempotency, imported in the task's body)."""

from celery import shared_task


@shared_task(ignore_result=False)
def ping_task(payload: str = "pong") -> str:
    """Answers through the result backend; proves a worker consumes from the broker."""
    return payload


@shared_task
def idempotency_keys_purge_task() -> int:
    from core.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
