"""Production lines report robots: one at a time, in batches, with safe retries."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from robots.models import Robot

pytestmark = pytest.mark.django_db
URL = "/api/v1/robots/"
BATCH_URL = "/api/v1/robots/batch/"
ROBOT = {"model": "R2", "version": "D2", "created": "2023-10-03 23:59:12"}


def test_a_robot_is_recorded_with_its_serial_and_factory_time(catalog, line):
    response = line.post(URL, ROBOT, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["serial"] == "R2-D2"
    assert (body["model"], body["version"]) == ("R2", "D2")
    assert body["created"] == "2023-10-03T23:59:12+03:00"  # naive = factory time (Europe/Moscow)
    robot = Robot.objects.get()
    assert robot.serial == "R2-D2"
    assert robot.robot_version == catalog[0]


def test_iso_8601_with_an_offset_is_accepted(catalog, line):
    response = line.post(URL, {**ROBOT, "created": "2023-10-03T20:59:12Z"}, format="json")

    assert response.status_code == 201
    assert response.json()["created"] == "2023-10-03T23:59:12+03:00"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**ROBOT, "model": "X9"}, "model", "Unknown robot model 'X9'."),
        ({**ROBOT, "version": "ZZ"}, "version", "Model 'R2' has no version 'ZZ'."),
        ({**ROBOT, "model": "R2X"}, "model", "Must be exactly two letters or digits."),
        ({**ROBOT, "version": 12}, "version", "Must be a string."),
        ({"model": "R2", "version": "D2"}, "created", "This field is required."),
        ({**ROBOT, "created": "yesterday"}, "created", "'yesterday' is not a date and time"),
        ({**ROBOT, "created": "2023-02-30 10:00:00"}, "created", "is not a valid date and time"),
        ({**ROBOT, "colour": "red"}, "colour", "Unknown field."),
    ],
)
def test_bad_robots_get_a_400_naming_the_field(catalog, line, body, field, message):
    response = line.post(URL, body, format="json")

    assert response.status_code == 400
    assert message in response.json()["fields"][field][0]
    assert not Robot.objects.exists()


@pytest.mark.parametrize(
    ("created", "accepted"),
    [
        ("1999-12-31 23:59:59", False),
        ("2000-01-01T00:00:00+14:00", True),  # the earliest instant the API takes
        ("1999-12-31T23:59:59-14:00", False),
        ("2101-01-01 00:00:00", False),
    ],
)
def test_created_outside_the_api_years_is_a_400_and_the_database_agrees(catalog, line, created, accepted):
    from django.db import IntegrityError, transaction

    from robots.models import CREATED_EARLIEST, CREATED_LATEST_EXCLUDED
    from robots.tests.factories import RobotFactory

    response = line.post(URL, {**ROBOT, "created": created}, format="json")

    assert (response.status_code == 201) is accepted, response.json()
    if not accepted:
        assert response.json()["fields"]["created"]
    # The CHECK constraint robot_created_in_api_years takes exactly the instants the API takes.
    for instant, allowed in (
        (CREATED_EARLIEST, True),
        (CREATED_EARLIEST - timedelta(microseconds=1), False),
        (CREATED_LATEST_EXCLUDED - timedelta(microseconds=1), True),
        (CREATED_LATEST_EXCLUDED, False),
    ):
        try:
            with transaction.atomic():
                RobotFactory(robot_version=catalog[0], created=instant)
        except IntegrityError as exc:
            assert not allowed, instant
            assert "robot_created_in_api_years" in str(exc)
        else:
            assert allowed, instant


def test_a_robot_from_the_future_is_refused_but_clock_skew_is_tolerated(catalog, line):
    soon = timezone.localtime() + timedelta(minutes=2)
    later = timezone.localtime() + timedelta(hours=1)

    ok = line.post(URL, {**ROBOT, "created": soon.strftime("%Y-%m-%d %H:%M:%S")}, format="json")
    refused = line.post(URL, {**ROBOT, "created": later.strftime("%Y-%m-%d %H:%M:%S")}, format="json")

    assert ok.status_code == 201
    assert refused.status_code == 400
    assert refused.json()["fields"]["created"] == ["A robot cannot be finished in the future."]


@pytest.mark.parametrize("body", ["[1, 2]", '"R2-D2"', "null"])
def test_a_body_that_is_not_an_object_is_a_400(catalog, line, body):
    response = line.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["fields"]["non_field_errors"]


def test_a_batch_is_recorded_whole(catalog, line):
    robots = [ROBOT, {**ROBOT, "version": "A1"}, {**ROBOT, "model": "C3", "version": "PO"}]

    response = line.post(BATCH_URL, robots, format="json")

    assert response.status_code == 201
    assert response.json() == {"created": 3}
    assert sorted(Robot.objects.values_list("serial", flat=True)) == ["C3-PO", "R2-A1", "R2-D2"]


def test_a_failed_batch_leaves_nothing_behind_and_names_errors_by_index(catalog, line):
    robots = [ROBOT, {**ROBOT, "model": "X9"}, ROBOT, {"model": "R2"}]

    response = line.post(BATCH_URL, robots, format="json")

    assert response.status_code == 400
    fields = response.json()["fields"]
    assert set(fields) == {"1", "3"}
    assert fields["1"]["model"] == ["Unknown robot model 'X9'."]
    assert set(fields["3"]) == {"version", "created"}
    assert not Robot.objects.exists()


def test_a_batch_of_more_than_1000_is_a_400(catalog, line):
    response = line.post(BATCH_URL, [ROBOT] * 1001, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "batch_too_large"
    assert not Robot.objects.exists()


def test_a_batch_of_exactly_1000_is_accepted(catalog, line):
    response = line.post(BATCH_URL, [ROBOT] * 1000, format="json")

    assert response.status_code == 201
    assert Robot.objects.count() == 1000


@pytest.mark.parametrize("body", ["{}", "[]", '"x"'])
def test_a_batch_that_is_not_a_non_empty_list_is_a_400(catalog, line, body):
    response = line.post(BATCH_URL, body, content_type="application/json")

    assert response.status_code == 400


def test_an_oversized_batch_body_is_a_413(catalog, line, settings):
    settings.MAX_BODY_SIZE = 10_000

    response = line.post(BATCH_URL, [ROBOT] * 500, format="json")

    assert response.status_code == 413


def test_a_retried_robot_with_the_same_key_is_recorded_once(catalog, line):
    first = line.post(URL, ROBOT, format="json", HTTP_IDEMPOTENCY_KEY="line-1:0001")
    retry = line.post(URL, ROBOT, format="json", HTTP_IDEMPOTENCY_KEY="line-1:0001")
    other = line.post(URL, {**ROBOT, "version": "A1"}, format="json", HTTP_IDEMPOTENCY_KEY="line-1:0001")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert other.status_code == 409
    assert Robot.objects.count() == 1


def test_a_retried_batch_with_the_same_key_is_recorded_once(catalog, line):
    robots = [ROBOT, {**ROBOT, "version": "A1"}]

    first = line.post(BATCH_URL, robots, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")
    retry = line.post(BATCH_URL, robots, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")

    assert first.status_code == retry.status_code == 201
    assert Robot.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_32_concurrent_retries_with_one_key_create_exactly_one_robot(catalog, line):
    barrier = threading.Barrier(32)
    responses = []

    def report() -> None:
        try:
            barrier.wait()
            responses.append(line.post(URL, ROBOT, format="json", HTTP_IDEMPOTENCY_KEY="line-1:burst"))
        finally:
            connection.close()

    threads = [threading.Thread(target=report) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [201] * 32
    assert len({r.json()["id"] for r in responses}) == 1
    assert Robot.objects.count() == 1


def test_only_production_lines_report_robots(catalog, client_for_role):
    for role in ("sales", "marketing", "manager"):
        assert client_for_role(role).post(URL, ROBOT, format="json").status_code == 403
        assert client_for_role(role).post(BATCH_URL, [ROBOT], format="json").status_code == 403


def test_a_version_deleted_since_the_catalog_was_cached_is_a_400_naming_it(catalog, line):
    from robots.models import RobotVersion
    from robots.services import catalog_cache

    assert line.post(URL, ROBOT, format="json").status_code == 201  # the catalog is cached now
    RobotVersion.objects.filter(model__code="R2", code="A1").delete()

    response = line.post(URL, {**ROBOT, "version": "A1"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"version": ["Model 'R2' has no version 'A1'."]}
    assert catalog_cache.get()[1] is False  # read afresh, and kept


def test_the_ingest_answer_is_the_output_serializers(catalog, line):
    from robots.apis import RobotOutputSerializer

    for created in ("2023-10-03 23:59:12", "2023-10-03T20:59:12.123456Z", "2000-01-01T00:00:00+14:00"):
        body = line.post(URL, {**ROBOT, "created": created}, format="json").json()

        assert body == RobotOutputSerializer(Robot.objects.get(pk=body["id"])).data
