"""Who sees what of the registration request log, and exports a spreadsheet never evaluates (OWASP CSV injection)."""

import io

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from registrations.models import RegistrationRequest

pytestmark = pytest.mark.django_db


def entry(**values) -> RegistrationRequest:
    defaults = {"created_at": timezone.now(), "status_code": 400, "outcome": "rejected", "duration_ms": 5.0}
    return RegistrationRequest.objects.create(**{**defaults, **values})


@pytest.fixture
def log(django_user_model):
    ann = django_user_model.objects.create_user(username="ann", password=None, email="ann@example.com")
    entry(status_code=201, outcome="created", login="ann", user=ann, client_address="10.0.0.5", user_agent="ann-ua")
    entry(login="robert", client_address="10.0.0.7", user_agent="curl/8.5", error_codes=["phone.invalid_phone"])
    entry(login="r***@e***.com", client_address="10.0.0.8", user_agent="wget/1.21")  # an e-mail, masked when logged
    return ann


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text_export(client) -> list[list[str]]:
    response = client.get("/stats/export.txt")
    assert response.status_code == 200
    return [line.split("\t") for line in b"".join(response.streaming_content).decode().splitlines()]


def xlsx_export(client) -> list[tuple]:
    response = client.get("/stats/export.xlsx")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return workbook["registration request log"]


def test_an_account_without_the_manager_role_sees_every_outcome_but_only_its_own_login(log):
    client = signed_in(log)

    page = client.get("/stats/")

    html = page.content.decode()
    assert page.context["stats"].total == 3
    assert dict(page.context["stats"].by_error) == {"phone.invalid_phone": 1}
    assert [row.login for row in page.context["page"]] == ["r***@e***.com", "r***", "ann"]
    assert "robert" not in html
    for hidden in ("10.0.0.5", "10.0.0.7", "10.0.0.8", "curl/8.5", "wget/1.21", "<th>client</th>"):
        assert hidden not in html


def test_its_exports_hold_the_same_and_no_client_column(log):
    client = signed_in(log)

    lines = text_export(client)
    sheet = xlsx_export(client)

    assert "client" not in lines[0] and "user_agent" not in lines[0]
    login = lines[0].index("login")
    assert [line[login] for line in lines[1:]] == ["ann", "r***", "r***@e***.com"]
    assert not any(address in "\t".join(line) for line in lines for address in ("10.0.0.7", "curl/8.5"))
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(lines[0])
    assert [row[login] for row in rows[1:]] == ["ann", "r***", "r***@e***.com"]


@pytest.mark.parametrize("kind", ["manager", "staff", "superuser"])
def test_managers_and_staff_see_logins_addresses_and_user_agents(log, django_user_model, kind):
    reader = django_user_model.objects.create_user(
        username=f"the-{kind}", password=None, is_staff=kind == "staff", is_superuser=kind == "superuser"
    )
    if kind == "manager":
        reader.groups.add(Group.objects.get_or_create(name="manager")[0])
    client = signed_in(reader)

    html = client.get("/stats/").content.decode()
    lines = text_export(client)

    assert "robert" in html and "10.0.0.7" in html and "<th>client</th>" in html
    assert "client" in lines[0] and "user_agent" in lines[0]
    assert any("robert" in line and "10.0.0.7" in line and "curl/8.5" in line for line in lines)


FORMULAS = ["+1+1abcd", "-2+3abcd", "=cmd|' /C calc'!A0", "@SUM(1,2)", "\t=1+1", "\r=1+1", "  =1+1", "＝1+1"]


def test_no_export_cell_is_a_formula_a_spreadsheet_would_evaluate(django_user_model):
    manager = django_user_model.objects.create_user(username="boss", password=None, is_staff=True)
    for index, login in enumerate(FORMULAS):
        entry(login=login, error_codes=[f'=HYPERLINK("http://x/{index}").unknown_field'], request_id=f"r{index}")
    client = signed_in(manager)

    lines = text_export(client)
    sheet = xlsx_export(client)

    login, codes = lines[0].index("login"), lines[0].index("error_codes")
    for line in lines[1:]:
        for cell in (line[login], line[codes]):
            assert cell.startswith("'"), cell  # read as text: the apostrophe is shown, nothing is evaluated
    assert [line[login] for line in lines[1:]][:3] == ["'+1+1abcd", "'-2+3abcd", "'=cmd|' /C calc'!A0"]
    for row in sheet.iter_rows(min_row=2):
        for cell in (row[login], row[codes]):
            assert cell.data_type == "s" and cell.quotePrefix, cell.value  # Excel's "text, not a formula"
    assert [row[login].value for row in sheet.iter_rows(min_row=2)][:2] == ["+1+1abcd", "-2+3abcd"]  # as written


def test_ordinary_cells_are_left_as_they_are(django_user_model):
    manager = django_user_model.objects.create_user(username="boss", password=None, is_staff=True)
    entry(login="ann-2024", client_address="10.0.0.9")
    client = signed_in(manager)

    (header, line) = text_export(client)
    sheet = xlsx_export(client)

    assert line[header.index("login")] == "ann-2024"
    assert sheet.cell(row=2, column=header.index("login") + 1).quotePrefix is False
