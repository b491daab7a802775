"""mailings_start_due: the seed-era /activate_mailing/ starts every due mailing at once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.services import mailing_cancel, mailing_create, mailings_start_due

pytestmark = pytest.mark.django_db


def _mailing(*, start_in: timedelta, **fields) -> Mailing:
    now = timezone.now()
    return mailing_create(start_at=now + start_in, end_at=now + timedelta(hours=1), text="Hello!", **fields)


def test_starts_the_scheduled_mailings_whose_start_has_come_and_whose_end_has_not(make_customers):
    # given customers, and mailings: two due (still scheduled: no worker ran their start),
    # one not yet due, one cancelled, one whose end has passed
    customers = make_customers(3, tag="vip")
    due_first = _mailing(start_in=timedelta(minutes=-10), filter_tag="vip")
    due_second = _mailing(start_in=timedelta(seconds=-1))
    later = _mailing(start_in=timedelta(minutes=30))
    cancelled = mailing_cancel(mailing_id=_mailing(start_in=timedelta(minutes=-5)).pk)
    ended = _mailing(start_in=timedelta(minutes=-20))
    Mailing.objects.filter(pk=ended.pk).update(end_at=timezone.now() - timedelta(seconds=1))

    # when the due ones are started
    started = mailings_start_due()

    # then exactly the due ones run, oldest start first, each with its recipients' messages
    assert started == [due_first.pk, due_second.pk]
    statuses = dict(Mailing.objects.values_list("pk", "status"))
    assert statuses[due_first.pk] == statuses[due_second.pk] == MailingStatus.RUNNING
    assert statuses[later.pk] == statuses[ended.pk] == MailingStatus.SCHEDULED
    assert statuses[cancelled.pk] == MailingStatus.CANCELLED
    assert set(Message.objects.filter(mailing=due_first).values_list("customer_id", "status")) == {
        (customer.pk, MessageStatus.PENDING) for customer in customers
    }
    # and a second call finds nothing left to start
    assert mailings_start_due() == []
    assert Message.objects.filter(mailing=due_first).count() == len(customers)
