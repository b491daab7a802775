"""The mailings API: validation, editing rules, cancel, delete, statistics, messages, roles."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from mailings import dispatcher
from mailings.models import Mailing, MailingStatus, Message, MessageStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/mailings/"


@pytest.fixture
def marketing(client_for_role):
    return client_for_role("marketing")


def _body(**fields) -> dict:
    now = timezone.now()
    return {
        "start_at": (now + timedelta(hours=1)).isoformat(),
        "end_at": (now + timedelta(hours=2)).isoformat(),
        "text": "Robots on sale",
        **fields,
    }


def _running(marketing, make_customers, n: int = 3) -> dict:
    make_customers(n)
    created = marketing.post(URL, _body(start_at=timezone.now().isoformat()), format="json").json()
    dispatcher.mailing_start(mailing_id=created["id"])
    return created


def test_a_future_mailing_is_created_scheduled(marketing, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = marketing.post(
            URL,
            _body(filter_tag="vip", filter_operator_code="912", send_window_start="09:00", send_window_end="21:00"),
            format="json",
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "scheduled"
    assert (body["send_window_start"], body["send_window_end"]) == ("09:00", "21:00")
    assert callbacks == []  # nothing to start yet: the beat tick starts it at its time


def test_a_due_mailing_is_started_right_after_commit(marketing, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = marketing.post(URL, _body(start_at="2020-01-01 10:00:00"), format="json")

    assert response.status_code == 201
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_at": "2020-01-01T00:00:00+00:00"}, "end_at"),
        ({"text": "   "}, "text"),
        ({"send_window_start": "09:00"}, "send_window_end"),
        ({"send_window_start": "25:00", "send_window_end": "10:00"}, "send_window_start"),
        ({"send_window_start": "10:00", "send_window_end": "10:00"}, "send_window_end"),
        ({"filter_operator_code": "12"}, "filter_operator_code"),
        ({"start_at": "yesterday"}, "start_at"),
        ({"error_threshold_percent": 0}, "error_threshold_percent"),
        ({"error_threshold_percent": 101}, "error_threshold_percent"),
        ({"error_threshold_percent": "half"}, "error_threshold_percent"),
    ],
)
def test_invalid_mailings_are_refused_field_by_field(marketing, changes, field):
    response = marketing.post(URL, _body(**changes), format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Mailing.objects.exists()


def test_a_scheduled_mailing_may_change_anything(marketing):
    created = marketing.post(URL, _body(), format="json").json()

    response = marketing.patch(f"{URL}{created['id']}/", {"text": "New text", "filter_tag": "vip"}, format="json")

    assert response.status_code == 200
    assert (response.json()["text"], response.json()["filter_tag"]) == ("New text", "vip")


def test_a_running_mailing_may_only_move_its_end(marketing, make_customers):
    created = _running(marketing, make_customers)
    new_end = (timezone.now() + timedelta(hours=5)).isoformat()

    moved = marketing.patch(f"{URL}{created['id']}/", {"end_at": new_end}, format="json")
    refused = marketing.patch(f"{URL}{created['id']}/", {"text": "Other"}, format="json")

    assert moved.status_code == 200
    assert moved.json()["status"] == "running"
    assert refused.status_code == 409
    assert "text" in refused.json()["fields"]


def test_cancelling_a_running_mailing_cancels_its_pending_messages(marketing, make_customers):
    created = _running(marketing, make_customers)

    response = marketing.post(f"{URL}{created['id']}/cancel/")
    again = marketing.post(f"{URL}{created['id']}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert again.status_code == 200
    mailing = Mailing.objects.get(pk=created["id"])
    assert set(mailing.messages.values_list("status", flat=True)) == {MessageStatus.CANCELLED}
    assert marketing.patch(f"{URL}{created['id']}/", {"text": "x"}, format="json").status_code == 409


def test_deleting_a_mailing_stops_it_and_hides_it_but_keeps_its_messages(marketing, make_customers):
    created = _running(marketing, make_customers)

    response = marketing.delete(f"{URL}{created['id']}/")

    assert response.status_code == 204
    assert marketing.get(f"{URL}{created['id']}/").status_code == 404
    assert marketing.get(URL).json()["count"] == 0
    mailing = Mailing.objects.get(pk=created["id"])
    assert mailing.status == MailingStatus.CANCELLED
    messages = marketing.get("/api/v1/messages/", {"mailing": created["id"]}).json()
    assert {m["status"] for m in messages["results"]} == {"cancelled"}


def test_statistics_count_messages_by_status(marketing, make_customers, django_assert_max_num_queries):
    created = _running(marketing, make_customers, n=4)
    marketing.post(URL, _body(), format="json")  # a scheduled one, no messages yet
    mailing = Mailing.objects.get(pk=created["id"])
    first, second = mailing.messages.order_by("id")[:2]
    mailing.messages.filter(pk=first.pk).update(status=MessageStatus.SENT, sent_at=timezone.now())
    mailing.messages.filter(pk=second.pk).update(status=MessageStatus.FAILED)

    with django_assert_max_num_queries(8):
        overall = marketing.get(f"{URL}stats/")
    one = marketing.get(f"{URL}{created['id']}/stats/", {"status": "pending"})

    assert overall.status_code == 200
    body = overall.json()
    assert body["totals"] == {"pending": 2, "sent": 1, "failed": 1, "expired": 0, "cancelled": 0, "total": 4}
    assert body["count"] == 2
    counts = {m["id"]: m["counts"] for m in body["results"]}
    assert counts[created["id"]]["sent"] == 1
    assert one.status_code == 200
    assert one.json()["counts"]["pending"] == 2
    assert one.json()["count"] == 2
    assert {m["status"] for m in one.json()["results"]} == {"pending"}


def test_messages_are_read_only_and_filterable(marketing, make_customers, django_assert_max_num_queries):
    created = _running(marketing, make_customers, n=3)

    with django_assert_max_num_queries(6):
        listed = marketing.get("/api/v1/messages/", {"mailing": created["id"], "status": "pending"})
    posted = marketing.post("/api/v1/messages/", {}, format="json")

    assert listed.status_code == 200
    assert listed.json()["count"] == 3
    assert posted.status_code == 405


@pytest.mark.parametrize(("role", "read", "write"), [("manager", 200, 403), ("sales", 403, 403)])
def test_roles(client_for_role, role, read, write):
    client = client_for_role(role)

    assert client.get(URL).status_code == read
    assert client.get(f"{URL}stats/").status_code == read
    assert client.post(URL, _body(), format="json").status_code == write


def test_the_admin_lists_mailings_with_counts_and_messages_by_status(admin_client, marketing, make_customers):
    created = _running(marketing, make_customers, n=2)

    mailings = admin_client.get("/admin/mailings/mailing/")
    messages = admin_client.get("/admin/mailings/message/", {"status__exact": "pending"})

    assert mailings.status_code == 200
    assert f"#{created['id']}" in mailings.content.decode() or str(created["id"]) in mailings.content.decode()
    assert messages.status_code == 200
    assert "79120000000" in messages.content.decode()


# --- campaign controls: pause, resume, resend-failed ---------------------------------------
def _finished_with(marketing, make_customers, statuses: list[str]) -> Mailing:
    """A finished mailing whose messages ended in `statuses`, one each, in id order."""
    created = _running(marketing, make_customers, n=len(statuses))
    mailing = Mailing.objects.get(pk=created["id"])
    for message, status in zip(mailing.messages.order_by("id"), statuses, strict=True):
        sent_at = timezone.now() if status == MessageStatus.SENT else None
        Message.objects.filter(pk=message.pk).update(status=status, attempts=3, last_error="HTTP 400", sent_at=sent_at)
    Mailing.objects.filter(pk=mailing.pk).update(status=MailingStatus.FINISHED, finished_at=timezone.now())
    return mailing


def test_a_running_mailing_is_paused_and_resumed(
    marketing, make_customers, settings, django_capture_on_commit_callbacks
):
    created = _running(marketing, make_customers)

    paused = marketing.post(f"{URL}{created['id']}/pause/")
    listed = marketing.get(URL, {"status": "paused"})
    stats = marketing.get(f"{URL}stats/", {"status": "paused"})
    with django_capture_on_commit_callbacks() as callbacks:
        resumed = marketing.post(f"{URL}{created['id']}/resume/")

    assert paused.status_code == 200, paused.json()
    assert (paused.json()["status"], paused.json()["paused_reason"]) == ("paused", "Paused on request.")
    assert [m["id"] for m in listed.json()["results"]] == [created["id"]]
    assert [(m["status"], m["counts"]["pending"]) for m in stats.json()["results"]] == [("paused", 3)]
    assert resumed.status_code == 200
    assert (resumed.json()["status"], resumed.json()["paused_reason"]) == ("running", "")
    assert len(callbacks) == settings.MAILING_SENDERS  # its senders are woken


def test_a_paused_mailing_may_only_move_its_end_and_threshold_once_started(marketing, make_customers):
    created = _running(marketing, make_customers)
    marketing.post(f"{URL}{created['id']}/pause/")

    moved = marketing.patch(f"{URL}{created['id']}/", {"error_threshold_percent": 30}, format="json")
    refused = marketing.patch(f"{URL}{created['id']}/", {"text": "Other"}, format="json")

    assert (moved.status_code, moved.json()["error_threshold_percent"], moved.json()["status"]) == (200, 30, "paused")
    assert refused.status_code == 409


def test_a_paused_scheduled_mailing_does_not_start_until_resumed(marketing, make_customers):
    make_customers(2)
    created = marketing.post(URL, _body(), format="json").json()
    marketing.post(f"{URL}{created['id']}/pause/")
    Mailing.objects.filter(pk=created["id"]).update(start_at=timezone.now() - timedelta(minutes=1))

    tick = dispatcher.mailings_tick()
    mailing = Mailing.objects.get(pk=created["id"])
    assert (tick.started, mailing.status, mailing.messages.count()) == (0, MailingStatus.PAUSED, 0)

    resumed = marketing.post(f"{URL}{created['id']}/resume/")
    dispatcher.mailings_tick()

    assert resumed.json()["status"] == "scheduled"
    mailing.refresh_from_db()
    assert (mailing.status, mailing.messages.count()) == (MailingStatus.RUNNING, 2)


@pytest.mark.parametrize(
    ("status", "action", "named"),
    [
        (MailingStatus.FINISHED, "pause", "finished"),
        (MailingStatus.CANCELLED, "pause", "cancelled"),
        (MailingStatus.PAUSED, "pause", "paused"),
        (MailingStatus.RUNNING, "resume", "running"),
        (MailingStatus.SCHEDULED, "resume", "scheduled"),
    ],
)
def test_a_transition_that_makes_no_sense_is_a_409_naming_the_status(marketing, status, action, named):
    created = marketing.post(URL, _body(), format="json").json()
    Mailing.objects.filter(pk=created["id"]).update(status=status)

    response = marketing.post(f"{URL}{created['id']}/{action}/")

    assert response.status_code == 409
    assert f"This mailing is {named}" in response.json()["detail"]
    assert Mailing.objects.get(pk=created["id"]).status == status


def test_controls_of_a_missing_or_deleted_mailing_are_404s(marketing):
    created = marketing.post(URL, _body(), format="json").json()
    marketing.delete(f"{URL}{created['id']}/")

    for action in ("pause", "resume", "resend-failed"):
        assert marketing.post(f"{URL}{created['id']}/{action}/", {}, format="json").status_code == 404
        assert marketing.post(f"{URL}999999/{action}/", {}, format="json").status_code == 404


def test_resend_failed_gives_the_undelivered_a_new_chance_with_the_same_ids(
    marketing, make_customers, settings, django_capture_on_commit_callbacks
):
    mailing = _finished_with(
        marketing, make_customers, [MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.EXPIRED]
    )
    sent, failed, expired = mailing.messages.order_by("id")
    new_end = timezone.now() + timedelta(hours=3)

    with django_capture_on_commit_callbacks() as callbacks:
        response = marketing.post(f"{URL}{mailing.pk}/resend-failed/", {"end_at": new_end.isoformat()}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["resent"], body["mailing"]["status"], body["mailing"]["finished_at"]) == (2, "running", None)
    assert abs(datetime.fromisoformat(body["mailing"]["end_at"]) - new_end) < timedelta(seconds=1)
    after = {m.pk: m for m in mailing.messages.all()}
    assert set(after) == {sent.pk, failed.pk, expired.pk}  # no new message: the same ids
    assert (after[sent.pk].status, after[sent.pk].attempts) == (MessageStatus.SENT, 3)
    for message_id in (failed.pk, expired.pk):
        assert (after[message_id].status, after[message_id].attempts, after[message_id].last_error) == (
            MessageStatus.PENDING,
            0,
            "",
        )
    assert len(callbacks) == settings.MAILING_SENDERS


def test_resend_failed_keeps_the_end_when_it_is_still_ahead_and_a_paused_mailing_paused(marketing, make_customers):
    created = _running(marketing, make_customers, n=2)
    Message.objects.filter(mailing_id=created["id"]).update(status=MessageStatus.FAILED)
    marketing.post(f"{URL}{created['id']}/pause/")

    response = marketing.post(f"{URL}{created['id']}/resend-failed/", {}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["mailing"]["end_at"] == created["end_at"]
    assert (response.json()["resent"], response.json()["mailing"]["status"]) == (2, "paused")


def test_resend_failed_refuses_with_a_409_and_changes_nothing(marketing, make_customers):
    mailing = _finished_with(marketing, make_customers, [MessageStatus.SENT, MessageStatus.FAILED])
    Mailing.objects.filter(pk=mailing.pk).update(
        start_at=timezone.now() - timedelta(hours=2), end_at=timezone.now() - timedelta(minutes=1)
    )
    url = f"{URL}{mailing.pk}/resend-failed/"

    ended = marketing.post(url, {}, format="json")
    past = marketing.post(url, {"end_at": "2020-01-01T00:00:00+00:00"}, format="json")
    invalid = marketing.post(url, {"end_at": "tomorrow"}, format="json")
    marketing.post(url, {"end_at": (timezone.now() + timedelta(hours=1)).isoformat()}, format="json")
    nothing_left = marketing.post(url, {"end_at": (timezone.now() + timedelta(hours=1)).isoformat()}, format="json")

    assert (ended.status_code, past.status_code, invalid.status_code) == (409, 409, 400)
    assert "end_at" in ended.json()["fields"] and "end_at" in past.json()["fields"]
    assert "end_at" in invalid.json()["fields"]
    assert (nothing_left.status_code, nothing_left.json()["code"]) == (409, "nothing_to_resend")
    assert sorted(mailing.messages.values_list("status", flat=True)) == [MessageStatus.PENDING, MessageStatus.SENT]


def test_a_cancelled_mailing_is_not_resent(marketing, make_customers):
    created = _running(marketing, make_customers, n=2)
    Message.objects.filter(mailing_id=created["id"]).update(status=MessageStatus.FAILED)
    marketing.post(f"{URL}{created['id']}/cancel/")

    response = marketing.post(f"{URL}{created['id']}/resend-failed/", {}, format="json")

    assert response.status_code == 409
    assert set(Message.objects.filter(mailing_id=created["id"]).values_list("status", flat=True)) == {"failed"}


def test_the_admin_pauses_and_resumes_mailings(admin_client, marketing, make_customers):
    created = _running(marketing, make_customers, n=1)
    url = "/admin/mailings/mailing/"

    admin_client.post(url, {"action": "pause", "_selected_action": [created["id"]]})
    paused = Mailing.objects.get(pk=created["id"])
    page = admin_client.get(url).content.decode()
    admin_client.post(url, {"action": "resume", "_selected_action": [created["id"]]})

    assert (paused.status, paused.paused_reason) == (MailingStatus.PAUSED, "Paused in the admin.")
    assert "Paused in the admin." in page
    resumed = Mailing.objects.get(pk=created["id"])
    assert (resumed.status, resumed.paused_reason) == (MailingStatus.RUNNING, "")
