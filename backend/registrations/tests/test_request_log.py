"""The registration request log: masking, and entries that survive an unreachable database."""

import json
import logging

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from accounts.models import User
from registrations.masking import mask_email, mask_login, mask_phone
from registrations.models import RegistrationRequest
from registrations.services import (
    registration_request_log,
    registration_request_log_replay,
    registration_request_set_aside,
    registration_request_spool,
    registration_request_to_json,
)
from tests.stack import free_port

URL = "/api/v1/useradd/"
ANN = {"name": "Ann", "username": "ann", "phone": "79161234567", "email": "ann.lee@example.com"}


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("79161234567", "7916*****67"),
        ("+7 (916) 123-45-67", "7916*****67"),
        (79161234567, "7916*****67"),
        ("12345", "*****"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_numbers_keep_the_operator_code_and_two_last_digits(value, masked):
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("ann.lee@example.com", "a***@e***.com"),
        ("x@mail.co.uk", "x***@m***.uk"),
        ("not-an-address", "n***"),
        ("@example.com", "@***"),
        ("", ""),
    ],
)
def test_email_addresses_keep_first_letters_and_the_top_level_domain(value, masked):
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("login", "logged"),
    [
        ("ann", "ann"),
        ("line-7", "line-7"),
        ("ann.lee@example.com", "a***@e***.com"),
        ("79161234567", "7916*****67"),
        ("+79161234567", "7916*****67"),
        ("robot2024", "robot2024"),
    ],
)
def test_a_login_that_is_an_email_address_or_a_phone_number_is_masked_too(login, logged):
    assert mask_login(login) == logged


@pytest.mark.django_db
def test_the_log_masks_a_login_that_is_an_email_address(api_client):
    response = api_client.post(
        URL, {"name": "Ann", "username": "ann.lee@example.com", "email": "ann.lee@example.com"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["login"] == "ann.lee@example.com"
    assert RegistrationRequest.objects.get().login == "a***@e***.com"


def spool_files(settings):
    return sorted(settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR.glob("*.json"))


@pytest.mark.django_db(transaction=True)
def test_with_the_database_unreachable_the_request_is_a_503_and_its_entry_is_spooled_then_replayed(settings):
    database = connections["default"]
    original_port = database.settings_dict["PORT"]
    database.close()
    database.settings_dict["PORT"] = str(free_port())  # nothing listens there
    try:
        response = Client().post(
            URL, ANN, content_type="application/json", HTTP_X_REQUEST_ID="00000000000040008000000000000d01"
        )
    finally:
        database.close()
        database.settings_dict["PORT"] = original_port

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"]
    (spooled,) = spool_files(settings)
    text = spooled.read_text()
    assert "79161234567" not in text and "ann.lee@example.com" not in text
    assert json.loads(text)["outcome"] == "unavailable"
    assert not RegistrationRequest.objects.exists()

    # the next request that reaches the database writes the spooled entry too
    again = Client().post(
        URL, ANN, content_type="application/json", HTTP_X_REQUEST_ID="00000000000040008000000000000001"
    )

    assert again.status_code == 201
    assert spool_files(settings) == []
    entries = {entry.request_id: entry for entry in RegistrationRequest.objects.all()}
    assert set(entries) == {"00000000000040008000000000000d01", "00000000000040008000000000000001"}
    down = entries["00000000000040008000000000000d01"]
    assert (down.status_code, down.outcome, down.error_codes) == (503, "unavailable", ["service_unavailable"])
    assert (down.login, down.phone_masked, down.email_masked) == ("ann", "7916*****67", "a***@e***.com")
    assert User.objects.filter(username="ann").count() == 1


def an_entry(**overrides) -> RegistrationRequest:
    """An entry of the log, not yet written."""
    values = {"created_at": timezone.now(), "status_code": 400, "outcome": "rejected", "duration_ms": 3.5}
    return RegistrationRequest(**{**values, **overrides})


@pytest.mark.django_db
def test_a_replay_writes_each_spooled_entry_once_even_if_its_file_is_seen_twice(settings):
    entry = an_entry(login="dup", error_codes=["username.required"])
    registration_request_spool(entry=entry)
    copy = settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR / "copy-of-the-same-entry.json"
    copy.write_text(registration_request_to_json(entry))

    replayed = registration_request_log_replay()

    assert replayed == 2
    assert RegistrationRequest.objects.filter(login="dup").count() == 1
    assert spool_files(settings) == []


@pytest.mark.django_db
def test_a_replayed_entry_whose_account_was_deleted_keeps_the_entry(settings):
    registration_request_spool(entry=an_entry(status_code=201, outcome="created", user_id=987654))

    assert registration_request_log_replay() == 1
    assert RegistrationRequest.objects.get().user is None


@pytest.mark.django_db
def test_the_replay_command_empties_the_spool(settings, capsys):
    from django.core.management import call_command

    for index in range(3):
        registration_request_spool(entry=an_entry(login=f"u{index}"))

    call_command("replay_registration_request_log_spool")

    assert "3 spooled" in capsys.readouterr().out
    assert RegistrationRequest.objects.count() == 3


def test_when_even_the_spool_fails_the_entry_survives_as_a_log_line(settings, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR = blocker / "spool"  # cannot be a directory

    with caplog.at_level(logging.ERROR, logger="registrations.services"):
        kept = registration_request_spool(entry=an_entry(login="last-resort"))

    assert kept is False
    assert "last-resort" in caplog.text


def test_the_spool_replay_task_writes_spooled_entries(db):
    """The periodic job replays what the web processes spooled while the database was down."""
    from registrations.tasks import registration_request_log_replay_task

    entry = an_entry()
    assert registration_request_spool(entry=entry)

    assert registration_request_log_replay_task() == 1
    assert RegistrationRequest.objects.filter(entry_id=entry.entry_id).exists()


# --- entries refused for their content: cleaned and written, or set aside; never spooled ---
def set_aside_files(settings):
    return sorted((settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR / "set-aside").glob("*.json"))


@pytest.mark.django_db
def test_a_nul_in_the_login_is_a_400_naming_it_and_its_entry_is_written_not_spooled(settings):
    body = '{"name": "x", "username": "nul\\u0000abc", "email": "n@example.com"}'

    response = Client().post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["fields"]["username"] == ["Holds the control character U+0000, which has no meaning here."]
    entry = RegistrationRequest.objects.get()
    assert (entry.outcome, entry.error_codes) == ("rejected", ["username.control_character"])
    assert "\x00" not in entry.login
    assert spool_files(settings) == [] and set_aside_files(settings) == []
    assert not User.objects.exists()


@pytest.mark.django_db
def test_an_entry_with_control_characters_is_written_with_them_escaped(settings, caplog):
    entry = an_entry(login="nul\x00abc", user_agent="agent\x85", errors={"fields": {"a\x01": ["b\x02"]}})

    with caplog.at_level(logging.INFO, logger="registrations.services"):
        assert registration_request_log(entry=entry)

    row = RegistrationRequest.objects.get()
    assert (row.login, row.user_agent) == ("nul\\u0000abc", "agent\\u0085")
    assert row.errors == {"fields": {"a\\u0001": ["b\\u0002"]}}
    assert spool_files(settings) == [] and set_aside_files(settings) == []
    assert "\x00" not in caplog.text and "\x85" not in caplog.text


@pytest.mark.django_db
def test_an_entry_the_database_refuses_even_cleaned_is_set_aside_and_counted(settings, client):
    refused = an_entry(status_code=70_000, login="too-big")  # beyond the column's smallint

    assert registration_request_log(entry=refused) is False

    assert spool_files(settings) == []
    (kept,) = set_aside_files(settings)
    assert json.loads(kept.read_text())["login"] == "too-big"
    assert not RegistrationRequest.objects.exists()
    metrics = client.get("/metrics").content.decode()
    assert 'r4c_registration_request_log_spool_entries{state="set_aside"} 1.0' in metrics
    assert 'r4c_registration_request_log_spool_entries{state="waiting"} 0.0' in metrics


@pytest.mark.django_db
def test_a_replay_goes_entry_by_entry_and_sets_aside_what_it_cannot_write(settings):
    first, second = an_entry(login="first"), an_entry(login="second")
    # Spooled by the earlier code, which took a refusal for an outage: a NUL, and a status out of range.
    nul = an_entry(login="nul\x00abc")
    out_of_range = an_entry(status_code=70_000, login="out-of-range")
    for entry in (first, nul, out_of_range, second):
        registration_request_spool(entry=entry)
    (settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR / "0-unreadable.json").write_text("{not json")

    assert registration_request_log_replay() == 3

    assert sorted(RegistrationRequest.objects.values_list("login", flat=True)) == ["first", "nul\\u0000abc", "second"]
    assert spool_files(settings) == []
    assert sorted(path.name for path in set_aside_files(settings)) == sorted(
        ["0-unreadable.json", f"{out_of_range.entry_id}.json"]
    )


@pytest.mark.django_db
def test_set_aside_entries_are_replayed_on_request_once_fixed(settings, capsys):
    from django.core.management import call_command

    registration_request_set_aside(entry=an_entry(login="fixed-later"))

    call_command("replay_registration_request_log_spool", "--set-aside")

    assert "1 set-aside registration request log entries replayed" in capsys.readouterr().out
    assert RegistrationRequest.objects.filter(login="fixed-later").exists()
    assert set_aside_files(settings) == []


@pytest.mark.django_db(transaction=True)
def test_a_replay_during_an_outage_stops_and_keeps_every_entry_waiting(settings):
    for index in range(3):
        registration_request_spool(entry=an_entry(login=f"waiting-{index}"))
    database = connections["default"]
    original_port = database.settings_dict["PORT"]
    database.close()
    database.settings_dict["PORT"] = str(free_port())
    try:
        replayed = registration_request_log_replay()
    finally:
        database.close()
        database.settings_dict["PORT"] = original_port

    assert replayed == 0
    assert len(spool_files(settings)) == 3
    assert set_aside_files(settings) == []


@pytest.mark.django_db
def test_staff_see_set_aside_and_waiting_entries_on_the_statistics_page(settings, django_user_model):
    registration_request_set_aside(entry=an_entry(login="refused"))
    registration_request_spool(entry=an_entry(login="waiting"))
    staff = django_user_model.objects.create_user(username="staff", password=None, is_staff=True)
    plain = django_user_model.objects.create_user(username="plain", password=None)
    pages = {}
    for user in (staff, plain):
        client = Client()
        client.force_login(user)
        pages[user.username] = client.get("/stats/").content.decode()

    assert 'id="spool"' in pages["staff"]
    assert "Set aside, refused by the database even cleaned: <strong>1</strong> log entry" in pages["staff"]
    assert str(settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR / "set-aside") in pages["staff"]
    assert "Waiting on disk for the database: <strong>1</strong> log entry" in pages["staff"]
    assert 'id="spool"' not in pages["plain"]
