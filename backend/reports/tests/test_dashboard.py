"""The managers' dashboard: who may see it, what it shows (production per factory day, stock,
waiting orders, latest reports, mailing totals), its empty states and its fixed query count."""

from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailings.models import Mailing, Message
from orders.services import order_create
from reports.models import Report, ReportKind, ReportStatus
from robots.tests.factories import RobotVersionFactory

pytestmark = pytest.mark.django_db


def factory_time(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_default_timezone())


@pytest.fixture
def page_client(django_user_model):
    """`page_client("manager")` is a browser session of an account with that role (None: no role)."""

    def make(role: str | None, *, superuser: bool = False) -> Client:
        name = f"{role or 'plain'}-{'admin' if superuser else 'user'}"
        user = django_user_model.objects.create_user(username=name, password=None, is_superuser=superuser)
        if role:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def manager(page_client) -> Client:
    return page_client("manager")


def robots(serial: str, when: datetime, count: int = 1) -> None:
    from robots.tests.factories import RobotFactory

    model, version = serial.split("-")
    RobotFactory.create_batch(count, robot_version=RobotVersionFactory(model__code=model, code=version), created=when)


def messages(mailing: Mailing, status: str, count: int) -> None:
    now = timezone.now()
    sent_at = now if status == "sent" else None
    Message.objects.bulk_create(
        Message(
            mailing=mailing,
            phone_number="79161234567",
            timezone="UTC",
            status=status,
            next_attempt_at=now,
            sent_at=sent_at,
        )
        for _ in range(count)
    )


def a_mailing(**values) -> Mailing:
    now = timezone.now()
    return Mailing.objects.create(
        start_at=now - timedelta(hours=1), end_at=now + timedelta(hours=1), text="Hi", **values
    )


def test_anonymous_visitors_are_sent_to_the_login_page():
    response = Client().get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/dashboard/"


@pytest.mark.parametrize("role", [None, "sales", "marketing", "production_line"])
def test_accounts_without_the_manager_role_get_a_403_that_names_it(page_client, role):
    response = page_client(role).get("/dashboard/")

    assert response.status_code == 403
    assert "Manager" in response.content.decode()
    assert 'href="/login/"' in response.content.decode()  # to sign in with another account
    assert "Robots produced" not in response.content.decode()


@pytest.mark.parametrize(("role", "superuser"), [("manager", False), (None, True)])
def test_managers_and_superusers_see_it_and_it_is_never_cached(page_client, role, superuser):
    response = page_client(role, superuser=superuser).get("/dashboard/")

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_it_is_read_only_head_and_options_as_get(manager):
    assert manager.head("/dashboard/").status_code == 200
    options = manager.options("/dashboard/")
    assert (options.status_code, options["Allow"]) == (200, "GET, HEAD, OPTIONS")
    assert manager.post("/dashboard/").status_code == 405


def test_robots_per_day_and_model_count_factory_days_over_the_last_30_days(manager):
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    # 01:00 factory time is the evening before in UTC: still yesterday on the dashboard.
    robots("R2-D2", factory_time(yesterday, 1), 2)
    robots("C3-PO", factory_time(yesterday, 23, 59), 1)
    robots("R2-D2", factory_time(today - timedelta(days=29), 0), 4)  # the first of the 30 days
    robots("R2-D2", factory_time(today - timedelta(days=30), 23, 59), 8)  # the day before: out

    response = manager.get("/dashboard/")

    chart = response.context["production"]
    assert len(chart.columns) == 30
    assert chart.columns[0].title == f"{today - timedelta(days=29):%Y-%m-%d}"
    assert chart.columns[-1].title == f"{today:%Y-%m-%d}"
    assert [kind.key for kind in chart.series] == ["C3", "R2"]
    assert sorted(bar.title for bar in chart.bars) == sorted(
        [
            f"{yesterday:%Y-%m-%d}: 2 R2",
            f"{yesterday:%Y-%m-%d}: 1 C3",
            f"{today - timedelta(days=29):%Y-%m-%d}: 4 R2",
        ]
    )
    assert chart.maximum == 4
    html = response.content.decode()
    assert 'id="production-chart"' in html
    production_svg = html.split('id="production-chart"')[1].split("</svg>")[0]
    assert production_svg.count('class="bar"') == 3
    assert '<span class="swatch"' in html and ">C3</li>" in html and ">R2</li>" in html  # the legend
    assert f"<td>{yesterday:%Y-%m-%d}</td>" in html  # the table, the chart's text alternative
    assert response.context["totals"]["produced"] == 7
    assert "<script" not in html


def test_stock_and_waiting_orders_per_serial(manager):
    robots("R2-D2", timezone.now() - timedelta(days=40), 3)
    RobotVersionFactory(model__code="X1", code="Y1")  # in the catalog, never produced
    order_create(email="first@example.com", robot_serial="R2-D2")  # takes a robot in stock
    order_create(email="second@example.com", robot_serial="X1-Y1")
    order_create(email="third@example.com", robot_serial="X1-Y1")

    response = manager.get("/dashboard/")

    assert [
        (row["serial"], row["produced"], row["reserved"], row["available"]) for row in response.context["stock"]
    ] == [("R2-D2", 3, 1, 2)]
    assert {bar.title for bar in response.context["stock_chart"].bars} == {
        "R2-D2: 2 available",
        "R2-D2: 1 reserved for orders",
    }
    assert response.context["waiting"] == [("X1-Y1", 2)]
    assert [bar.title for bar in response.context["waiting_chart"].bars] == ["X1-Y1: 2 orders waiting"]
    assert response.context["totals"] == {"produced": 0, "available": 2, "waiting": 2, "messages": 0}
    html = response.content.decode()
    assert 'id="stock-chart"' in html and 'id="waiting-chart"' in html
    assert "No robots produced in the last 30 days." in html  # the robots are older


def test_the_latest_reports_with_a_download_link_for_the_ready_ones(manager):
    until = timezone.now().replace(microsecond=0)
    ready = Report.objects.create(
        kind=ReportKind.NIGHTLY,
        period_start=until - timedelta(days=7),
        period_end=until,
        status=ReportStatus.READY,
        file_name="weekly-report_a.xlsx",
        file_path="a.xlsx",
        robots=12,
        next_attempt_at=until,
    )
    failed = Report.objects.create(
        period_start=until - timedelta(days=1),
        period_end=until,
        status=ReportStatus.FAILED,
        last_error="disk full",
        next_attempt_at=until,
    )
    for index in range(12):
        Report.objects.create(period_start=until - timedelta(days=index + 1), period_end=until, next_attempt_at=until)

    response = manager.get("/dashboard/")

    shown = response.context["reports"]
    assert len(shown) == 10
    assert ready not in shown  # newest first: the twelve later ones push it out
    Report.objects.exclude(pk__in=[ready.pk, failed.pk]).delete()
    html = manager.get("/dashboard/").content.decode()
    assert f'href="/api/v1/reports/{ready.pk}/download/"' in html
    assert "weekly-report_a.xlsx" in html
    assert f'href="/api/v1/reports/{failed.pk}/download/"' not in html
    assert "disk full" in html
    # the link works for the page's own session
    assert manager.get(f"/api/v1/reports/{ready.pk}/download/").status_code != 403


def test_mailing_totals_by_message_and_mailing_status(manager):
    running = a_mailing(status="running")
    messages(running, "sent", 3)
    messages(running, "failed", 1)
    messages(a_mailing(status="finished"), "expired", 2)

    response = manager.get("/dashboard/")

    counts = response.context["message_counts"]
    assert (counts["sent"], counts["failed"], counts["expired"], counts["pending"], counts["total"]) == (3, 1, 2, 0, 6)
    assert response.context["mailing_counts"]["running"] == 1
    assert response.context["mailing_counts"]["finished"] == 1
    assert {bar.title for bar in response.context["messages_chart"].bars} == {
        "messages: 3 sent",
        "messages: 1 failed",
        "messages: 2 expired",
    }
    assert 'id="messages-chart"' in response.content.decode()


def test_empty_states_say_there_is_nothing_yet(manager):
    html = manager.get("/dashboard/").content.decode()

    for text in (
        "No robots produced in the last 30 days.",
        "No robots produced yet.",
        "No order is waiting for a robot.",
        "No stored reports yet",
        "No SMS messages yet.",
    ):
        assert text in html
    assert 'class="bar"' not in html


def test_the_page_costs_the_same_queries_whatever_the_data(manager, django_assert_max_num_queries):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager.get("/dashboard/").status_code == 200
        return len(captured)

    empty = queries()
    today = timezone.localdate()
    for day in range(30):
        robots(f"R{day % 5}-D{day % 3}", factory_time(today - timedelta(days=day), 12), 2)
    for index in range(20):
        order_create(email=f"c{index}@example.com", robot_serial=f"R{index % 5}-D{index % 3}")
    for status in ("sent", "failed", "pending"):
        messages(a_mailing(status="running"), status, 5)
    until = timezone.now()
    for index in range(15):
        Report.objects.create(period_start=until - timedelta(days=index + 1), period_end=until, next_attempt_at=until)

    assert queries() == empty
    with django_assert_max_num_queries(10):  # session, user, roles and one query per panel
        manager.get("/dashboard/")
