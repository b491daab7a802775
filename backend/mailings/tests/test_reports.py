"""The daily statistics e-mail goes through the outbox, once per day."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailings import dispatcher
from mailings.models import Message, MessageStatus
from mailings.reports import mailings_daily_stats_email
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

    assert mailings_daily_stats_email() is None
    assert not Email.objects.exists()
