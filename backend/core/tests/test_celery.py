"""Celery's reliability settings and routing, as the workers load them."""

from config.celery import app


def test_tasks_are_acknowledged_late_and_requeued_when_a_worker_dies():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit > 0


def test_each_app_has_its_own_queue():
    assert {queue.name for queue in app.conf.task_queues} == {"default", "notifications", "reports", "mailings"}
    route = app.amqp.router.route
    assert route({}, "notifications.tasks.email_send_task")["queue"].name == "notifications"
    assert route({}, "reports.tasks.report_build_task")["queue"].name == "reports"
    assert route({}, "mailings.tasks.mailing_dispatch_task")["queue"].name == "mailings"
    assert route({}, "core.tasks.ping_task")["queue"].name == "default"


def test_beat_reads_its_schedule_from_the_database():
    assert app.conf.beat_scheduler == "core.beat:HeartbeatScheduler"
