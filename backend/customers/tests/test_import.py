"""Customer import: upload (checks of the file as a whole, limits), the rows (the customers
API's rules, upsert by phone then e-mail, duplicates), counts and errors, re-upload, resume."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import Workbook

from core import jobs
from customers import services
from customers.models import Customer, CustomerImport, CustomerImportStatus
from customers.services import customer_import_create, customer_import_run, customer_imports_sweep

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/import/"
HEADER = "phone_number,email,operator_code,tag,timezone\n"


@pytest.fixture
def marketing(client_for_role):
    return client_for_role("marketing")


def csv_file(text: str, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def xlsx_file(rows: list[list], name: str = "customers.xlsx") -> SimpleUploadedFile:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/octet-stream")


def upload(client, file) -> dict:
    response = client.post(URL, {"file": file}, format="multipart")
    assert response.status_code == 202, response.json()
    return response.json()


def run(import_id: int) -> dict:
    """The worker's part, in the test's process (the task calls exactly this)."""
    assert customer_import_run(import_id=import_id) is None
    return CustomerImport.objects.get(pk=import_id)


def poll(client, import_id: int) -> dict:
    response = client.get(f"/api/v1/customers/imports/{import_id}/")
    assert response.status_code == 200
    return response.json()


GOOD_AND_BAD = (
    HEADER
    + "+7 912 345-67-89,ivan@example.com,,vip,Europe/Moscow\n"  # row 2: new
    + "12345,petr@example.com,,,\n"  # row 3: bad phone
    + "89161234567,,,new,GMT+3\n"  # row 4: new, trunk prefix 8
    + ",not-an-email,,,\n"  # row 5: bad e-mail
    + "79261234567,,,,Mars/Olympus\n"  # row 6: bad time zone
    + '79031234567,=HYPERLINK("x"),,,\n'  # row 7: a formula
    + ",,,,\n"  # blank: skipped
    + "79121112233,anna@example.com,,staff,UTC+5\n"  # row 9: new
)


def test_a_csv_with_good_and_bad_rows_keeps_the_good_ones_and_names_each_bad_row(marketing):
    accepted = upload(marketing, csv_file(GOOD_AND_BAD))
    assert accepted["status"] == "pending" and accepted["total"] == 7

    run(accepted["id"])
    body = poll(marketing, accepted["id"])

    assert body["status"] == "done"
    assert (body["total"], body["processed"], body["created"], body["updated"], body["failed"]) == (7, 7, 3, 0, 4)
    assert {(error["row"], error["field"]) for error in body["errors"]} == {
        (3, "phone_number"),
        (5, "email"),
        (6, "timezone"),
        (7, "email"),
    }
    assert "Formulas" in next(error["reason"] for error in body["errors"] if error["row"] == 7)
    ivan = Customer.objects.get(phone_number="79123456789")
    assert (ivan.email, ivan.operator_code, ivan.tag, ivan.timezone) == (
        "ivan@example.com",
        "912",
        "vip",
        "Europe/Moscow",
    )
    assert Customer.objects.get(phone_number="79161234567").timezone == "UTC+03:00"
    assert Customer.objects.count() == 3


def test_rows_are_numbered_as_a_spreadsheet_does_even_after_a_cell_holding_a_line_break(marketing):
    # given a cell whose quoted text spans two lines (refused: a control character), and a bad row after it
    accepted = upload(marketing, csv_file(HEADER + '79123456789,,,"two\nlines",\n' + "12345,,,,\n"))

    body = poll(marketing, run(accepted["id"]).pk)

    assert [(error["row"], error["field"]) for error in body["errors"]] == [(2, "tag"), (3, "phone_number")]


def test_the_answer_carries_location_and_the_list_shows_the_import(marketing, client_for_role):
    response = marketing.post(URL, {"file": csv_file(GOOD_AND_BAD)}, format="multipart")

    assert response.status_code == 202
    assert response["Location"] == f"/api/v1/customers/imports/{response.json()['id']}/"
    listed = client_for_role("manager").get("/api/v1/customers/imports/").json()
    assert [item["id"] for item in listed["results"]] == [response.json()["id"]]


def test_an_xlsx_is_imported_like_a_csv_with_numbers_as_typed_and_formulas_refused(marketing):
    accepted = upload(
        marketing,
        xlsx_file(
            [
                ["Phone_Number", "email", "tag"],
                [79123456789, "ivan@example.com", "vip"],  # a phone typed as a number
                ["8 916 123-45-67", None, "=1+1"],
                [None, None, None],
                ["12345", None, None],  # not a phone number
            ]
        ),
    )

    job = run(accepted["id"])

    assert job.file_format == "xlsx"
    assert (job.status, job.total, job.created, job.failed) == ("done", 3, 1, 2)
    assert {(error["row"], error["field"]) for error in job.errors} == {(3, "tag"), (5, "phone_number")}
    assert Customer.objects.get().phone_number == "79123456789"


def test_importing_the_same_file_again_changes_nothing(marketing):
    first = run(upload(marketing, csv_file(GOOD_AND_BAD))["id"])
    stamps = dict(Customer.objects.values_list("pk", "updated_at"))

    again = run(upload(marketing, csv_file(GOOD_AND_BAD))["id"])

    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, first.created, first.failed)
    assert dict(Customer.objects.values_list("pk", "updated_at")) == stamps


def test_rows_update_customers_found_by_phone_then_by_email_and_empty_cells_keep_values(marketing):
    by_phone = Customer.objects.create(phone_number="79123456789", operator_code="912", tag="old", timezone="UTC")
    by_email = Customer.objects.create(email="Anna@Example.com", tag="keep")

    job = run(
        upload(
            marketing,
            csv_file(HEADER + "79123456789,,,new,\n" + "79161234567,anna@example.COM,,,Asia/Tokyo\n"),
        )["id"]
    )

    assert (job.created, job.updated, job.unchanged) == (0, 2, 0)
    by_phone.refresh_from_db()
    by_email.refresh_from_db()
    assert (by_phone.tag, by_phone.timezone) == ("new", "UTC")
    assert (by_email.phone_number, by_email.operator_code, by_email.tag, by_email.timezone) == (
        "79161234567",
        "916",
        "keep",
        "Asia/Tokyo",
    )
    assert by_email.email == "anna@example.COM"


def test_an_email_of_a_customer_with_another_phone_is_a_row_error_not_a_takeover(marketing):
    Customer.objects.create(phone_number="79123456789", email="ivan@example.com")
    Customer.objects.create(phone_number="79161234567")
    Customer.objects.create(email="zoe@example.com")

    job = run(
        upload(marketing, csv_file(HEADER + "79261234567,ivan@example.com,,,\n79161234567,zoe@example.com,,,\n"))["id"]
    )

    assert (job.created, job.updated, job.failed) == (0, 0, 2)
    assert [(error["row"], error["field"]) for error in job.errors] == [(2, "email"), (3, "email")]
    assert Customer.objects.get(email="zoe@example.com").phone_number is None


def test_a_later_row_with_a_phone_or_email_of_an_earlier_row_is_refused_even_batches_apart(marketing, settings):
    settings.IMPORT_BATCH_SIZE = 2
    text = HEADER + "79123456789,a@example.com,,first,\n79161234567,,,,\n79261234567,,,,\n"
    text += "8 912 345 67 89,,,second,\n79031234567,A@EXAMPLE.com,,,\n"

    job = run(upload(marketing, csv_file(text))["id"])

    assert (job.created, job.failed) == (3, 2)
    assert [(error["row"], error["field"]) for error in job.errors] == [(5, "phone_number"), (6, "email")]
    assert "Row 2" in job.errors[0]["reason"]
    assert Customer.objects.get(phone_number="79123456789").tag == "first"


def test_only_the_first_row_errors_are_kept_and_the_import_says_so(marketing, monkeypatch):
    monkeypatch.setattr(services, "IMPORT_ERRORS_KEPT", 2)

    job = run(upload(marketing, csv_file(HEADER + "1,,,,\n2,,,,\n3,,,,\n79123456789,,,,\n"))["id"])

    assert (job.failed, len(job.errors), job.errors_truncated, job.created) == (3, 2, True, 1)


def test_a_semicolon_csv_with_a_byte_order_mark_and_a_subset_of_columns_is_read(marketing):
    text = "\ufeffemail;tag\nivan@example.com;vip\n"

    job = run(upload(marketing, SimpleUploadedFile("excel.csv", text.encode("utf-8")))["id"])

    assert (job.created, job.failed) == (1, 0)
    assert Customer.objects.get().tag == "vip"


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", ""),  # DRF's own message (in LANGUAGE_CODE)
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Legacy .xls"),
        (b"PK\x03\x04not a zip", "damaged"),
        (b"phone_number,email\n\x00\x01\x02\n", "NUL byte"),
        ("phone_number,email\n79123456789,иван@пример.рф\n".encode("cp1251"), "not UTF-8"),
        (b"79123456789,ivan@example.com\n", "first row must be the header"),
        (b"name,surname\nIvan,Ivanov\n", "first row must be the header"),
        (b"tag,timezone\nvip,UTC\n", "must name phone_number or email"),
        (b"phone_number,phone_number\n1,2\n", "more than once"),
        (b"\n\n", "no header row"),
    ],
)
def test_a_file_that_is_no_csv_or_xlsx_with_a_header_is_a_400_naming_the_file(marketing, content, says, settings):
    response = marketing.post(URL, {"file": SimpleUploadedFile("x.csv", content)}, format="multipart")

    assert response.status_code == 400, response.json()
    assert says in str(response.json()["fields"]["file"])
    assert CustomerImport.objects.count() == 0
    assert not any(settings.IMPORTS_DIR.glob("*")) if settings.IMPORTS_DIR.exists() else True


def test_no_file_field_is_a_400_and_json_is_a_415(marketing):
    assert marketing.post(URL, {"other": "x"}, format="multipart").status_code == 400
    assert marketing.post(URL, {"file": "x"}, format="json").status_code == 415


def test_a_file_with_more_rows_than_max_import_rows_is_refused_up_front_with_a_413(marketing, settings):
    settings.MAX_IMPORT_ROWS = 2

    response = marketing.post(URL, {"file": csv_file(HEADER + "1,,,,\n2,,,,\n3,,,,\n")}, format="multipart")

    assert response.status_code == 413
    assert "MAX_IMPORT_ROWS" in response.json()["detail"]
    assert CustomerImport.objects.count() == 0


def test_a_body_over_max_import_bytes_is_a_413_naming_it_and_other_paths_keep_max_body_size(marketing, settings):
    settings.MAX_IMPORT_BYTES = 200
    settings.MAX_BODY_SIZE = 100
    text = HEADER + "79123456789,,,,\n" * 20

    response = marketing.post(URL, {"file": csv_file(text)}, format="multipart")

    assert response.status_code == 413
    assert "MAX_IMPORT_BYTES" in response.json()["detail"]
    settings.MAX_IMPORT_BYTES = 10_000
    response = marketing.post(URL, {"file": csv_file(text)}, format="multipart")
    assert response.status_code == 202, response.json()
    assert "MAX_BODY_SIZE" in marketing.post("/api/v1/customers/", {"tag": "x" * 200}, format="json").json()["detail"]


def test_an_xlsx_whose_sheet_is_larger_than_max_import_rows_is_refused_up_front(marketing, settings):
    settings.MAX_IMPORT_ROWS = 2

    response = marketing.post(
        URL, {"file": xlsx_file([["phone_number"], [79123456789], [79161234567], [79261234567]])}, format="multipart"
    )

    assert response.status_code == 413


def test_the_file_is_stored_under_imports_dir_and_removed_once_done(
    marketing, settings, django_capture_on_commit_callbacks
):
    accepted = upload(marketing, csv_file(GOOD_AND_BAD))
    job = CustomerImport.objects.get(pk=accepted["id"])
    path = settings.IMPORTS_DIR / job.file_path
    assert path.read_text() == GOOD_AND_BAD

    with django_capture_on_commit_callbacks(execute=True):
        run(job.pk)

    assert not path.exists()
    assert CustomerImport.objects.get(pk=job.pk).file_path == ""


# --- the job: resume, take-over, sweep, failure --------------------------------------------
def stored_import(text: str) -> CustomerImport:
    return customer_import_create(upload=csv_file(text))


def test_an_import_taken_over_after_a_crash_goes_on_after_its_last_committed_batch(settings):
    settings.IMPORT_BATCH_SIZE = 2
    job = stored_import(HEADER + "79123456789,,,,\n79161234567,,,,\n79261234567,,,,\n79031234567,,,,\n")
    # A worker committed the first batch and died: running, its lease over.
    CustomerImport.objects.filter(pk=job.pk).update(
        status=jobs.RUNNING, processed=2, created=2, attempts=1, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )

    job = run(job.pk)

    assert (job.status, job.attempts, job.processed, job.created, job.unchanged) == ("done", 2, 4, 4, 0)
    assert set(Customer.objects.values_list("phone_number", flat=True)) == {"79261234567", "79031234567"}


def test_a_running_import_whose_lease_holds_is_left_to_its_worker():
    job = stored_import(HEADER + "79123456789,,,,\n")
    CustomerImport.objects.filter(pk=job.pk).update(
        status=jobs.RUNNING, attempts=1, next_attempt_at=timezone.now() + timedelta(seconds=60)
    )

    assert customer_import_run(import_id=job.pk) is None
    assert customer_imports_sweep(grace_seconds=0) == 0
    assert CustomerImport.objects.get(pk=job.pk).processed == 0


def test_the_sweeper_wakes_running_imports_whose_lease_ran_out_and_lost_pending_ones():
    lost = stored_import(HEADER + "79123456789,,,,\n")
    abandoned = stored_import(HEADER + "79161234567,,,,\n")
    done = stored_import(HEADER + "79261234567,,,,\n")
    past = timezone.now() - timedelta(seconds=120)
    CustomerImport.objects.filter(pk=lost.pk).update(next_attempt_at=past)
    CustomerImport.objects.filter(pk=abandoned.pk).update(status=jobs.RUNNING, attempts=1, next_attempt_at=past)
    CustomerImport.objects.filter(pk=done.pk).update(status=CustomerImportStatus.DONE, next_attempt_at=past)

    assert customer_imports_sweep(grace_seconds=60) == 2


def test_a_worker_whose_import_was_taken_over_stops_without_writing(settings):
    settings.IMPORT_BATCH_SIZE = 1
    job = stored_import(HEADER + "79123456789,,,,\n79161234567,,,,\n")
    calls = []

    def steps(current):
        for index, step in enumerate(services._import_steps(current)):
            if index == 1:  # meanwhile, another worker claimed the job (its lease had run out)
                CustomerImport.objects.filter(pk=current.pk).update(attempts=current.attempts + 1)
            calls.append(index)
            yield step

    result = jobs.job_run_in_steps(
        CustomerImport, job_id=job.pk, policy=services.customer_import_retry_policy(), lease_seconds=60, steps=steps
    )

    assert result is None and calls == [0, 1]
    job.refresh_from_db()
    assert (job.status, job.processed, job.created) == (jobs.RUNNING, 1, 1)
    assert Customer.objects.count() == 1


def test_a_file_gone_from_imports_dir_fails_the_import_at_once(settings):
    job = stored_import(HEADER + "79123456789,,,,\n")
    (settings.IMPORTS_DIR / job.file_path).unlink()

    job = run(job.pk)

    assert (job.status, job.attempts) == ("failed", 1)
    assert "gone" in job.last_error and job.finished_at is not None


def test_a_failing_step_leaves_the_import_pending_with_its_progress_for_a_retry(settings):
    settings.IMPORT_BATCH_SIZE = 1
    job = stored_import(HEADER + "79123456789,,,,\n79161234567,,,,\n")

    def steps(current):
        for index, step in enumerate(services._import_steps(current)):
            if index == 1:
                raise OSError("disk went away")
            yield step

    delay = jobs.job_run_in_steps(
        CustomerImport, job_id=job.pk, policy=services.customer_import_retry_policy(), lease_seconds=60, steps=steps
    )

    job.refresh_from_db()
    assert delay is not None and delay > 0
    assert (job.status, job.processed, job.created, job.attempts) == ("pending", 1, 1, 1)
    assert "disk went away" in job.last_error
    assert job.next_attempt_at > timezone.now()
