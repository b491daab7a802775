"""Customer tasks (queue `default`): thin; the rules are in customers.services (imported in each task's body)."""

from celery import shared_task


@shared_task(acks_late=True)
def customer_import_run_task(import_id: int) -> None:
    from customers.services import customer_import_run

    delay = customer_import_run(import_id=import_id)
    if delay is not None:
        # The row already says when; this message is only the wake-up (the sweeper is the backstop).
        customer_import_run_task.apply_async((import_id,), countdown=delay)


@shared_task
def customer_imports_sweep_task() -> int:
    from customers.services import customer_imports_sweep

    return customer_imports_sweep()
