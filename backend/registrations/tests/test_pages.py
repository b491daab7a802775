"""The registration request log's pages: statistics, chart, recent requests, the exports; the log in the admin."""

import io
from datetime import timedelta

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from registrations.models import RegistrationRequest

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-enough-passphrase"


def log_entry(*, minutes_ago: float = 0, **values) -> RegistrationRequest:
    defaults = {
        "created_at": timezone.now() - timedelta(minutes=minutes_ago),
        "status_code": 201,
        "outcome": "created",
        "login": "someone",
        "email_masked": "s***@e***.com",
        "phone_masked": "7916*****67",
        "client_address": "10.0.0.1",
        "duration_ms": 42.0,
    }
    return RegistrationRequest.objects.create(**{**defaults, **values})


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="viewer", password=PASSWORD, email="viewer@example.com")


@pytest.fixture
def signed_in(user) -> Client:
    """A manager: sees the whole log (what other accounts see: tests/test_least_exposure)."""
    user.groups.add(Group.objects.get_or_create(name="manager")[0])
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", ["/stats/", "/results/", "/stats/export.txt", "/stats/export.xlsx"])
def test_pages_need_a_signed_in_account(path):
    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_the_statistics_show_totals_by_status_by_error_a_chart_and_recent_requests(signed_in):
    log_entry(login="first", minutes_ago=3)
    log_entry(
        status_code=400,
        outcome="rejected",
        login="second",
        error_codes=["phone.invalid_phone", "username.required"],
        minutes_ago=2,
    )
    log_entry(status_code=409, outcome="conflict", login="third", error_codes=["username.already_taken"], minutes_ago=1)
    log_entry(status_code=429, outcome="throttled", login="fourth", error_codes=["throttled"])

    page = signed_in.get("/stats/")

    assert page.status_code == 200
    stats = page.context["stats"]
    assert stats.total == 4
    assert stats.created == 1
    assert stats.by_status == [(201, 1), (400, 1), (409, 1), (429, 1)]
    assert dict(stats.by_error) == {
        "phone.invalid_phone": 1,
        "username.required": 1,
        "username.already_taken": 1,
        "throttled": 1,
    }
    html = page.content.decode()
    assert 'id="requests-chart"' in html
    assert html.count('class="bar"') == 4  # today's bar: one segment per outcome
    for login in ("first", "second", "third", "fourth"):
        assert login in html
    assert "7916*****67" in html
    assert "<script" not in html  # nginx's CSP allows no inline script: the chart is SVG


def test_the_chart_has_a_bar_per_day_and_shows_empty_days(signed_in):
    log_entry(minutes_ago=60 * 24 * 3)
    log_entry(outcome="rejected", status_code=400, minutes_ago=60 * 24 * 3)

    page = signed_in.get("/stats/?days=7")

    chart = page.context["chart"]
    assert len(chart.columns) == 7
    assert len(chart.bars) == 2
    assert chart.maximum == 2


def test_recent_requests_are_paginated_newest_first_and_filtered_by_outcome(signed_in):
    for index in range(30):
        log_entry(login=f"user{index:02d}", minutes_ago=30 - index)
    log_entry(outcome="rejected", status_code=400, login="the-rejected-one")

    first = signed_in.get("/stats/")
    second = signed_in.get("/stats/?page=2")
    rejected = signed_in.get("/stats/?outcome=rejected")

    assert [e.login for e in first.context["page"]][:2] == ["the-rejected-one", "user29"]
    assert len(first.context["page"]) == 25
    assert [e.login for e in second.context["page"]][-1] == "user00"
    assert [e.login for e in rejected.context["page"]] == ["the-rejected-one"]


def test_a_page_number_in_other_digits_is_not_read_as_a_number(signed_in):
    for index in range(30):
        log_entry(login=f"user{index:02d}", minutes_ago=30 - index)

    arabic_two = signed_in.get("/stats/?page=٢")
    fullwidth_two = signed_in.get("/stats/?page=２")

    for response in (arabic_two, fullwidth_two):
        assert response.status_code == 200
        assert response.context["page"].number == 1


def test_the_statistics_page_costs_the_same_queries_for_any_log_size(signed_in, django_assert_max_num_queries):
    for index in range(60):
        log_entry(login=f"u{index}", error_codes=["x.y"], outcome="rejected", status_code=400)

    with django_assert_max_num_queries(10):
        assert signed_in.get("/stats/").status_code == 200


def test_results_is_an_alias_of_stats(signed_in):
    assert signed_in.get("/results/").status_code == 200


def test_the_text_export_streams_the_whole_log_masked_oldest_first(signed_in):
    log_entry(login="older", minutes_ago=5, errors={"detail": "x\ty\nz"})
    log_entry(login="newer", status_code=400, outcome="rejected", error_codes=["phone.invalid_phone"])

    response = signed_in.get("/stats/export.txt")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="r4c-registration-request-log-')
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].split("\t")[:5] == ["time", "request_id", "method", "status", "outcome"]
    assert len(lines) == 3
    assert [line.split("\t")[5] for line in lines[1:]] == ["older", "newer"]
    assert all(len(line.split("\t")) == len(lines[0].split("\t")) for line in lines)
    assert "phone.invalid_phone" in lines[2]
    assert "7916*****67" in lines[1]


def test_the_xlsx_export_holds_the_whole_log(signed_in):
    for index in range(5):
        log_entry(login=f"u{index}", minutes_ago=10 - index)

    response = signed_in.get("/stats/export.xlsx")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(workbook["registration request log"].iter_rows(values_only=True))
    assert rows[0][:5] == ("time", "request_id", "method", "status", "outcome")
    assert [row[5] for row in rows[1:]] == ["u0", "u1", "u2", "u3", "u4"]
    assert rows[1][3] == 201


def test_the_admin_shows_the_log_read_only(admin_client):
    entry = log_entry(login="audited")

    listing = admin_client.get("/admin/registrations/registrationrequest/")
    detail = admin_client.get(f"/admin/registrations/registrationrequest/{entry.pk}/change/")
    add = admin_client.get("/admin/registrations/registrationrequest/add/")
    delete = admin_client.post(f"/admin/registrations/registrationrequest/{entry.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200 and "audited" in listing.content.decode()
    assert detail.status_code == 200
    assert add.status_code == 403
    assert delete.status_code == 403
    assert RegistrationRequest.objects.filter(pk=entry.pk).exists()


def test_the_xlsx_export_writes_times_as_local_excel_dates(signed_in, settings):
    moment = timezone.make_aware(timezone.datetime(2026, 3, 1, 12, 30, 15), timezone.get_fixed_timezone(0))
    log_entry(created_at=moment)

    response = signed_in.get("/stats/export.xlsx")

    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cell = workbook["registration request log"]["A2"]
    assert cell.is_date
    assert cell.value == timezone.localtime(moment).replace(tzinfo=None)
