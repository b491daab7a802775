"""Report tasks (queue `reports`): thin; the rules are in reports.services (imported in each task's body)."""

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True)
def report_build_task(report_id: int) -> None:
    from reports.services import report_build

    delay = report_build(report_id=report_id)
    if delay is not None:
        # The row already says when; this message is only the wake-up (the sweeper is the backstop).
        report_build_task.apply_async((report_id,), countdown=delay)


@shared_task
def nightly_report_request_task() -> int:
    from reports.services import nightly_report_request

    return nightly_report_request().pk


@shared_task
def reports_sweep_task() -> int:
    from reports.services import nightly_reports_catch_up, reports_sweep

    # Beat's crontab forgets runs missed while it was down: every sweep catches them up.
    nightly_reports_catch_up(now=timezone.now())
    return reports_sweep()


@shared_task
def reports_prune_task() -> int:
    from reports.services import reports_prune

    return reports_prune()
