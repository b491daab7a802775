"""The dispatcher against the database and the fake gateway on loopback (no broker: tasks are
the thin shells around these functions, exercised end to end in tests/e2e)."""

from datetime import UTC, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.services import customer_create
from mailings import dispatcher
from mailings.models import Mailing, MailingStatus, Message, MessageStatus
from mailings.services import mailing_cancel, mailing_create, mailing_pause, mailing_resend_failed, mailing_resume

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


def test_a_call_the_mailings_end_cuts_short_keeps_the_gateways_last_answer(make_customers, fake_gateway, settings):
    # given a message the gateway answered with a non-JSON 200 once, and a gateway that now
    # answers in 2 s, with the mailing's end 0.3 s away
    make_customers(1)
    fake_gateway.faults(answer="not_json")
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)
    dispatcher.mailing_send_chunk(mailing_id=mailing.pk)
    Message.objects.filter(mailing=mailing).update(next_attempt_at=timezone.now())
    fake_gateway.faults(latency_ms=2000)
    Mailing.objects.filter(pk=mailing.pk).update(end_at=timezone.now() + timedelta(seconds=0.3))

    # when a sender tries it again
    result = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)

    # then the second call counts as an attempt, and the message still says what the gateway
    # answered, not that our own deadline cut the wait
    message = mailing.messages.get()
    assert (result.claimed, result.retried) == (1, 1)
    assert message.attempts == 2
    assert message.last_error.startswith("HTTP 200 but not JSON")


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


# --- campaign controls ----------------------------------------------------------------
def test_a_paused_mailing_claims_nothing_and_sends_the_rest_once_resumed(make_customers, fake_gateway):
    make_customers(25)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)
    first = dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=10)

    mailing_pause(mailing_id=mailing.pk)
    while_paused = dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=10)
    # a sender that read the mailing before the pause committed claims nothing either
    claimed_by_a_late_sender = dispatcher._claim(mailing.pk, timezone.now(), None, 10)
    tick = dispatcher.mailings_tick()
    mailing_resume(mailing_id=mailing.pk)
    _drain(mailing)

    assert (first.sent, while_paused.claimed, while_paused.again_in) == (10, 0, None)
    assert claimed_by_a_late_sender == []
    assert (tick.finished, tick.swept) == (0, 0)
    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.FINISHED
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert fake_gateway.stats()["duplicates"] == 0


def test_a_paused_mailing_still_ends_its_pending_messages_expire(make_customers, fake_gateway):
    make_customers(3)
    mailing = _mailing()
    never_started = _mailing(start_at=timezone.now() + timedelta(minutes=1))
    dispatcher.mailing_start(mailing_id=mailing.pk)
    mailing_pause(mailing_id=mailing.pk)
    mailing_pause(mailing_id=never_started.pk)
    Mailing.objects.filter(pk=never_started.pk).update(start_at=timezone.now() - timedelta(minutes=1))
    Mailing.objects.filter(pk__in=[mailing.pk, never_started.pk]).update(end_at=timezone.now())

    tick = dispatcher.mailings_tick()

    assert tick.expired == 3
    for ended in (mailing, never_started):
        ended.refresh_from_db()
        assert ended.status == MailingStatus.FINISHED
        assert set(ended.messages.values_list("status", flat=True)) == {MessageStatus.EXPIRED}
    assert never_started.messages.count() == 3  # who was missed is on record
    assert fake_gateway.deliveries() == {}


def test_a_mailing_pauses_itself_when_its_error_threshold_is_reached(make_customers, fake_gateway, settings):
    # given a mailing that pauses at 50% failures over at least 10 answers, and a gateway
    # refusing everything
    settings.MAILING_ERROR_MIN_ANSWERS = 10
    make_customers(30)
    fake_gateway.faults(reject_ratio=1.0)
    mailing = _mailing(error_threshold_percent=50)
    dispatcher.mailing_start(mailing_id=mailing.pk)

    # when a small chunk is answered (not enough answers yet), then a second
    small = dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=5)
    status_after_small = Mailing.objects.get(pk=mailing.pk).status
    tripping = dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=5)
    after = dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=5)

    # then it paused itself after the tenth failure, saying why, and claimed nothing after
    mailing.refresh_from_db()
    assert (small.failed, status_after_small) == (5, MailingStatus.RUNNING)
    assert (tripping.failed, after.claimed) == (5, 0)
    assert mailing.status == MailingStatus.PAUSED
    assert mailing.paused_reason == (
        "Paused itself: 10 of the last 10 gateway answers were failures (100%, threshold 50%)."
    )
    assert mailing.messages.filter(status=MessageStatus.PENDING).count() == 20

    # and resuming clears the reason and the window: the next chunk may go on
    fake_gateway.faults(reject_ratio=0.0)
    mailing_resume(mailing_id=mailing.pk)
    _, resent = mailing_resend_failed(mailing_id=mailing.pk)
    mailing.refresh_from_db()
    assert (mailing.paused_reason, mailing.recent_answers, resent) == ("", "", 10)
    _drain(mailing)
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.SENT}


def test_the_window_keeps_the_last_answers_and_a_low_failure_share_does_not_pause(
    make_customers, fake_gateway, settings
):
    settings.MAILING_ERROR_WINDOW = 8
    settings.MAILING_ERROR_MIN_ANSWERS = 4
    settings.MAILING_ERROR_THRESHOLD_PERCENT = 60  # the platform's default applies
    customers = make_customers(12)
    fake_gateway.faults(answer_by_phone={customers[0].phone_number: "code_false"})  # one failure in 12
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=12)

    mailing.refresh_from_db()
    assert mailing.status == MailingStatus.RUNNING
    assert len(mailing.recent_answers) == 8 and set(mailing.recent_answers) == {"1"}


def test_answers_asking_for_a_pause_do_not_count_as_failures(make_customers, fake_gateway, settings):
    settings.MAILING_ERROR_MIN_ANSWERS = 1
    make_customers(5)
    fake_gateway.faults(answer="rate_limited", retry_after=30)
    mailing = _mailing(error_threshold_percent=1)
    dispatcher.mailing_start(mailing_id=mailing.pk)

    result = dispatcher.mailing_send_chunk(mailing_id=mailing.pk)

    mailing.refresh_from_db()
    assert result.retried == 5
    assert (mailing.status, mailing.recent_answers) == (MailingStatus.RUNNING, "")


def test_the_error_bookkeeping_costs_one_statement_per_chunk_whatever_its_size(make_customers, fake_gateway):
    # given a mailing whose chunks are recorded without, then with, an error threshold
    make_customers(30)
    mailing = _mailing()
    dispatcher.mailing_start(mailing_id=mailing.pk)

    # when a chunk of 5 is sent without one, and chunks of 5 and of 20 with one
    with CaptureQueriesContext(connection) as plain:
        dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=5)
    Mailing.objects.filter(pk=mailing.pk).update(error_threshold_percent=90)
    with CaptureQueriesContext(connection) as small:
        dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=5)
    with CaptureQueriesContext(connection) as large:
        dispatcher.mailing_send_chunk(mailing_id=mailing.pk, chunk_size=20)

    # then the threshold costs one statement (the window's read), not one per message
    assert len(small.captured_queries) == len(plain.captured_queries) + 1
    assert len(large.captured_queries) == len(small.captured_queries)
    assert Mailing.objects.get(pk=mailing.pk).recent_answers == "1" * 25
