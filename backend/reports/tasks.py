"""Report tasks: thin; the rules are in reports.services. All run on the `reports` queue."""

from celery import shared_task
from django.utils import timezone

from reports import services


@shared_task(acks_late=True)
def report_build_task(report_id: int) -> None:
    delay = services.report_build(report_id=report_id)
    if delay is not None:
        # The row already says when; this message is only the wake-up (the sweeper is the backstop).
        report_build_task.apply_async((report_id,), countdown=delay)


@shared_task
def nightly_report_request_task() -> int:
    return services.nightly_report_request().pk


@shared_task
def reports_sweep_task() -> int:
    # Beat's crontab forgets runs missed while it was down: every sweep catches them up.
    services.nightly_reports_catch_up(now=timezone.now())
    return services.reports_sweep()


@shared_task
def reports_prune_task() -> int:
    return services.reports_prune()
