"""The mailings API: validation, editing rules, cancel, delete, statistics, messages, roles."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailings import dispatcher
from mailings.models import Mailing, MailingStatus, MessageStatus

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
