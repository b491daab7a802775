"""Tasks every app relies on: the broker round trip check and key expiry."""

from celery import shared_task

from core.idempotency import idempotency_keys_purge


@shared_task(ignore_result=False)
def ping_task(payload: str = "pong") -> str:
    """Answers through the result backend; proves a worker consumes from the broker."""
    return payload


@shared_task
def idempotency_keys_purge_task() -> int:
    return idempotency_keys_purge()
