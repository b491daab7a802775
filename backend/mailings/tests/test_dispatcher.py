"""The dispatcher against the database and the fake gateway on loopback (no broker: tasks are
the thin shells around these functions, exercised end to end in tests/e2e)."""

from datetime import UTC, time, timedelta

import pytest
from django.utils import timezone

from customers.services import customer_create
from mailings import dispatcher
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.services import mailing_cancel, mailing_create

pytestmark = pytest.mark.django_db


def _mailing(**fields) -> Mailing:
    now = timezone.now()
    values = {"start_at": now - timedelta(seconds=1), "end_at": now + timedelta(hours=1), "text": "Hello!"}
    return mailing_create(**(values | fields))


def _drain(mailing: Mailing, *, rounds: int = 50) -> None:
    for _ in range(rounds):
        if not dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=10).claimed:
            pending_due = Message.objects.filter(
                mailing=mailing, status=MessageStatus.PENDING, next_attempt_at__lte=timezone.now()
            )
            if (
                not pending_due.exists()
                and not Message.objects.filter(mailing=mailing, status=MessageStatus.PENDING).exists()
            ):
                return


def test_start_creates_one_message_per_matching_customer_with_a_phone(make_customers, django_assert_max_num_queries):
    # given customers in and out of the filters, and one known only by e-mail
    wanted = make_customers(3, tag="vip")
    make_customers(2, tag="other")
    make_customers(2, prefix="999", tag="vip")
    customer_create(email="only@example.com", tag="vip")
    mailing = _mailing(filter_tag="vip", filter_operator_code="912")

    # when it starts (twice: the start is idempotent)
    with django_assert_max_num_queries(6):
        created = dispatcher.mailing_start(mailing_id=mailing.pk)
    again = dispatcher.mailing_start(mailing_id=mailing.pk)

    # then exactly the matching customers have a pending message
    mailing.refresh_from_db()
    assert (created, again) == (3, 0)
    assert mailing.status == MailingStatus.RUNNING
    assert set(mailing.messages.values_list("customer_id", flat=True)) == {c.pk for c in wanted}
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.PENDING}


def test_a_future_mailing_does_not_start_before_its_time(make_customers):
    make_customers(2)
    mailing = _mailing(start_at=timezone.now() + timedelta(minutes=5), end_at=timezone.now() + timedelta(hours=1))

    assert dispatcher.mailing_start(mailing_id=mailing.pk) == 0
    assert dispatcher.mailings_tick().started == 0
    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.SCHEDULED
    assert not mailing.messages.exists()


def test_the_tick_starts_a_due_mailing(make_customers):
    make_customers(2)
    mailing = _mailing()

    result = dispatcher.mailings_tick()

    mailing.refresh_from_db()
    assert result.started == 1
    assert mailing.status == MailingStatus.RUNNING
    assert mailing.messages.count() == 2


def test_every_message_is_sent_once_and_the_mailing_finishes(make_customers, fake_gateway):
    customers = make_customers(25)
    mailing = _mailing(text="Robots on sale")
    dispatcher.mailing_start(mailing_id=mailing.pk)

    _drain(mailing)

    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.FINISHED
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.SENT}
    deliveries = fake_gateway.deliveries()
    assert set(deliveries) == set(mailing.messages.values_list("id", flat=True))
    assert {d["phone"] for d in deliveries.values()} == {int(c.phone_number) for c in customers}
    assert {d["text"] for d in deliveries.values()} == {"Robots on sale"}
    assert fake_gateway.stats()["duplicates"] == 0


def test_a_flaky_gateway_still_delivers_everything_with_retries(make_customers, fake_gateway):
    make_customers(30)
    fake_gateway.faults(error_ratio=0.3, malformed_ratio=0.1, code_ratio=0.1)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    for _ in range(200):
        dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=10)
        if not mailing.messages.filter(status=MessageStatus.PENDING).exists():
            break
        Message.objects.filter(mailing=mailing).update(next_attempt_at=timezone.now())  # skip the back-off

    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert mailing.messages.filter(attempts__gt=1).exists()
    assert len(fake_gateway.deliveries()) == 30


def test_a_4xx_answer_is_a_final_failure(make_customers, fake_gateway):
    make_customers(3)
    fake_gateway.faults(reject_ratio=1.0)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    dispatcher.mailing_send_chunk(mailing_id=mailing.pk)

    message = mailing.messages.first()
    assert message.status == MessageStatus.FAILED
    assert message.attempts == 1
    assert "HTTP 400" in message.last_error
    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.FINISHED


def test_a_failed_call_is_retried_after_a_back_off(make_customers, fake_gateway, settings):
    settings.MAILING_RETRY_BASE_SECONDS = 60
    settings.MAILING_RETRY_MAX_SECONDS = 600
    make_customers(1)
    fake_gateway.faults(error_ratio=1.0, error_status=503)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    first = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)
    second = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)

    message = mailing.messages.get()
    assert (first.claimed, second.claimed) == (1, 0)
    assert message.status == MessageStatus.PENDING
    assert message.attempts == 1
    assert "HTTP 503" in message.last_error
    assert timezone.now() + timedelta(seconds=29) < message.next_attempt_at < timezone.now() + timedelta(seconds=61)


def test_a_retry_after_holds_the_message_and_the_whole_mailing_until_then(make_customers, fake_gateway, settings):
    # given a gateway answering 429 with Retry-After: 30, and back-offs far shorter than that
    make_customers(3)
    fake_gateway.faults(answer="rate_limited", retry_after=30)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    # when a sender sends, and senders come back at once, and the tick looks for stalled work
    first = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)
    again = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)
    Mailing.objects.filter(pk=mailing.pk).update(dispatched_at=timezone.now() - timedelta(hours=1))
    Message.objects.filter(mailing=mailing).update(next_attempt_at=timezone.now())
    tick = dispatcher.mailings_tick()
    after_the_tick = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)

    # then each message was tried once and waits for the moment the gateway named; the
    # senders claim nothing before it and sleep until then; the tick wakes nobody
    attempts = fake_gateway.attempts()
    assert sorted(len(calls) for calls in attempts.values()) == [1, 1, 1]
    assert first.claimed == 3 and first.retried == 3
    assert again.claimed == 0 and 25 < again.again_in <= 30
    assert tick.swept == 0 and after_the_tick.claimed == 0
    for message in mailing.messages.all():
        assert (message.status, message.attempts) == (MessageStatus.PENDING, 1)
        assert "HTTP 429 with Retry-After 30: no call before" in message.last_error


def test_a_retry_after_sets_the_messages_next_attempt(make_customers, fake_gateway, settings):
    make_customers(2)
    fake_gateway.faults(answer="unavailable", retry_after=40, retry_after_format="date")
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    dispatcher.mailing_send_chunk(mailing_id=mailing.pk)

    for message_id, [call] in fake_gateway.attempts().items():
        message = Message.objects.get(pk=message_id)
        assert message.next_attempt_at.timestamp() >= call["not_before"]
        assert "HTTP 503 with Retry-After" in message.last_error


@pytest.mark.parametrize("answer", ["redirect", "code_false", "code_string", "not_object", "huge", "status_202"])
def test_an_odd_answer_is_never_recorded_as_sent(make_customers, fake_gateway, answer):
    make_customers(3)
    fake_gateway.faults(answer=answer)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    result = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)

    assert (result.claimed, result.sent, result.retried) == (3, 0, 3)
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.PENDING}
    assert all(message.last_error for message in mailing.messages.all())
    assert fake_gateway.deliveries() == {}


def test_a_dead_gateway_opens_the_circuit_and_is_probed_not_hammered(make_customers, fake_gateway, settings):
    settings.GATEWAY_BREAKER_COOLDOWN = 30
    settings.GATEWAY_CONCURRENCY = 5
    make_customers(40)
    fake_gateway.faults(down=True)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    result = dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=40)
    again = dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=40)

    calls = fake_gateway.stats()["outcomes"].get("down", 0)
    assert result.deferred > 0
    assert calls < 40  # the circuit opened before every message was tried
    assert again.claimed == 0 and again.again_in > 20  # open: nothing claimed, come back after the cool-down
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.PENDING}


def test_nothing_is_sent_after_the_end_and_the_tick_expires_what_is_left(make_customers, fake_gateway):
    make_customers(3)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)
    Mailing.objects.filter(pk=mailing.pk).update(end_at=timezone.now())

    sent = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)
    tick = dispatcher.mailings_tick()

    mailing.refresh_from_db()
    assert sent.claimed == 0
    assert fake_gateway.deliveries() == {}
    assert tick.expired == 3
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.EXPIRED}
    assert mailing.status == MailingStatus.FINISHED


def test_a_mailing_started_after_its_end_records_every_recipient_as_expired(make_customers):
    make_customers(2)
    mailing = _mailing()
    Mailing.objects.filter(pk=mailing.pk).update(
        start_at=timezone.now() - timedelta(hours=2), end_at=timezone.now() - timedelta(hours=1)
    )

    dispatcher.mailing_start(mailing_id=mailing.pk)

    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.FINISHED
    assert list(mailing.messages.values_list("status", flat=True)) == [MessageStatus.EXPIRED] * 2


def test_the_send_window_holds_back_customers_outside_it(make_customers, fake_gateway):
    # given a window open now in UTC+00:00 and closed now in UTC+12:00
    now = timezone.now().astimezone(UTC)
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    inside = make_customers(2, timezone="UTC+00:00")
    outside = make_customers(2, timezone="GMT+12")
    mailing = _mailing(send_window_start=start, send_window_end=end)
    dispatcher.mailing_start(mailing_id=mailing.pk)

    _drain(mailing)

    statuses = dict(mailing.messages.values_list("customer_id", "status"))
    assert {statuses[c.pk] for c in inside} == {MessageStatus.SENT}
    assert {statuses[c.pk] for c in outside} == {MessageStatus.PENDING}
    assert not dispatcher._has_due_work(mailing, timezone.now())


@pytest.mark.parametrize(
    ("local", "start", "end", "inside"),
    [
        ("10:00", "09:00", "18:00", True),
        ("18:00", "09:00", "18:00", False),
        ("23:30", "22:00", "06:00", True),
        ("05:59", "22:00", "06:00", True),
        ("12:00", "22:00", "06:00", False),
    ],
)
def test_windows_may_wrap_midnight(local, start, end, inside):
    hour, minute = map(int, local.split(":"))
    now = timezone.now().astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)

    assert dispatcher.in_window(now, "UTC", time.fromisoformat(start), time.fromisoformat(end)) is inside


def test_cancelling_stops_pending_messages(make_customers, fake_gateway):
    make_customers(3)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    mailing_cancel(mailing_id=mailing.pk)
    result = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)

    assert result.claimed == 0
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.CANCELLED}
    assert fake_gateway.deliveries() == {}


def test_the_tick_wakes_a_running_mailing_that_nobody_works_on(
    make_customers, settings, django_capture_on_commit_callbacks
):
    settings.MAILING_STALL_SECONDS = 0
    make_customers(2)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)
    Mailing.objects.filter(pk=mailing.pk).update(dispatched_at=timezone.now() - timedelta(minutes=5))

    with django_capture_on_commit_callbacks() as callbacks:
        result = dispatcher.mailings_tick()

    assert result.swept == 1
    assert len(callbacks) == settings.MAILING_SENDERS
