"""The daily statistics e-mail goes through the outbox, once per day; days missed while beat
was down are e-mailed afterwards."""

from datetime import datetime, timedelta

import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.schedule import PERIODIC_JOBS
from core.schedules import periodic_tasks_sync
from mailings import dispatcher
from mailings.models import Message, MessageStatus
from mailings.reports import DAILY_STATS_TASK, mailings_daily_stats_catch_up, mailings_daily_stats_email
from mailings.services import mailing_create
from notifications.models import Email

pytestmark = pytest.mark.django_db


def test_the_daily_statistics_are_e_mailed_to_the_managers_once(make_customers, settings):
    settings.MANAGER_EMAILS = ["boss@r4c.example"]
    make_customers(3)
    now = timezone.now()
    mailing = mailing_create(start_at=now, end_at=now + timedelta(hours=1), text="Robots on sale")
    dispatcher.mailing_start(mailing_id=mailing.pk)
    Message.objects.filter(pk=mailing.messages.first().pk).update(status=MessageStatus.SENT, sent_at=now)

    email = mailings_daily_stats_email(day=timezone.localdate())
    again = mailings_daily_stats_email(day=timezone.localdate())

    assert email.pk == again.pk
    assert Email.objects.count() == 1
    assert email.recipients == ["boss@r4c.example"]
    assert timezone.localdate().isoformat() in email.subject
    assert f"#{mailing.pk} [running]" in email.body_text
    assert "Messages sent that day: 1" in email.body_text
    assert "pending 2" in email.body_text
    assert "<table" in email.body_html


def test_without_managers_nothing_is_sent(settings):
    settings.MANAGER_EMAILS = []

    assert mailings_daily_stats_email(day=timezone.localdate()) is None
    assert not Email.objects.exists()


def local(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


def _days_e_mailed() -> list[str]:
    return sorted(Email.objects.values_list("dedup_key", flat=True))


@pytest.fixture
def daily_job(settings):
    settings.MANAGER_EMAILS = ["boss@r4c.example"]
    periodic_tasks_sync(jobs=PERIODIC_JOBS)  # 09:00 every day, as the release step leaves it


def test_every_day_missed_since_the_newest_e_mail_is_e_mailed_once(daily_job):
    # given Monday's e-mail (the statistics of Sunday), then beat down until Thursday 10:00
    mailings_daily_stats_email(day=local(2023, 10, 8).date())

    caught_up = mailings_daily_stats_catch_up(now=local(2023, 10, 12, 10, 0))
    again = mailings_daily_stats_catch_up(now=local(2023, 10, 12, 10, 0, 2))

    assert [e.dedup_key for e in caught_up] == [f"mailings-daily-stats:2023-10-{d:02d}" for d in (9, 10, 11)]
    assert again == []
    assert len(_days_e_mailed()) == 4


def test_a_day_is_not_caught_up_before_its_scheduled_time(daily_job):
    mailings_daily_stats_email(day=local(2023, 10, 8).date())

    assert mailings_daily_stats_catch_up(now=local(2023, 10, 10, 8, 59)) == []  # Tuesday's is due at 09:00
    assert [e.dedup_key for e in mailings_daily_stats_catch_up(now=local(2023, 10, 10, 9, 0))] == [
        "mailings-daily-stats:2023-10-09"
    ]


def test_a_fresh_installation_e_mails_nothing_for_its_past(daily_job):
    MigrationRecorder.Migration.objects.filter(app="mailings").update(applied=local(2023, 10, 11, 12, 0))

    assert mailings_daily_stats_catch_up(now=local(2023, 10, 12, 8, 0)) == []
    assert [e.dedup_key for e in mailings_daily_stats_catch_up(now=local(2023, 10, 12, 9, 1))] == [
        "mailings-daily-stats:2023-10-11"
    ]


def test_without_managers_or_with_the_job_disabled_nothing_is_caught_up(daily_job, settings):
    mailings_daily_stats_email(day=local(2023, 10, 8).date())
    PeriodicTask.objects.filter(task=DAILY_STATS_TASK).update(enabled=False)
    assert mailings_daily_stats_catch_up(now=local(2023, 10, 12, 10, 0)) == []

    PeriodicTask.objects.filter(task=DAILY_STATS_TASK).update(enabled=True)
    settings.MANAGER_EMAILS = []
    assert mailings_daily_stats_catch_up(now=local(2023, 10, 12, 10, 0)) == []
    assert len(_days_e_mailed()) == 1


def test_the_tick_catches_up(daily_job):
    from mailings.tasks import mailings_tick_task

    mailings_daily_stats_email(day=timezone.localdate() - timedelta(days=30))  # long ago: the last week is due

    mailings_tick_task()

    assert len(_days_e_mailed()) == 1 + 7
