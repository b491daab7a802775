"""core.events: handlers run at once, in the publisher's transaction, in the order they subscribed."""

from dataclasses import dataclass

import pytest
from django.db import transaction

from core import events
from core.models import IdempotencyKey


@dataclass(frozen=True)
class Happened(events.Event):
    what: str


def test_handlers_run_in_the_order_they_subscribed_and_once_each(monkeypatch):
    monkeypatch.setattr(events, "_handlers", events.defaultdict(list))
    seen = []

    def first(event):
        seen.append(("first", event.what))

    def second(event):
        seen.append(("second", event.what))

    events.subscribe(Happened, first)
    events.subscribe(Happened, second)
    events.subscribe(Happened, first)  # a ready() that runs twice registers nothing more
    events.publish(Happened("it"))

    assert seen == [("first", "it"), ("second", "it")]
    assert events.subscribers(Happened) == (first, second)


@pytest.mark.django_db
def test_a_failing_handler_fails_the_publishers_transaction(monkeypatch, django_user_model):
    monkeypatch.setattr(events, "_handlers", events.defaultdict(list))
    owner = django_user_model.objects.create(username="owner")

    def refuse(event):
        raise RuntimeError("no")

    events.subscribe(Happened, refuse)
    with pytest.raises(RuntimeError), transaction.atomic():
        IdempotencyKey.objects.create(owner=owner, key="k", fingerprint="f", expires_at="2100-01-01T00:00:00Z")
        events.publish(Happened("it"))

    assert not IdempotencyKey.objects.exists()
