"""The catalog, the robot list and the stock."""

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from robots.models import RobotModel
from robots.tests.factories import RobotFactory, RobotVersionFactory

pytestmark = pytest.mark.django_db


def test_a_manager_adds_a_model_with_versions_and_then_another_version(manager):
    created = manager.post(
        "/api/v1/robot-models/", {"code": "R2", "name": "Astromech", "versions": ["D2"]}, format="json"
    )
    added = manager.post("/api/v1/robot-models/R2/versions/", {"code": "A1"}, format="json")

    assert created.status_code == 201
    assert created.json() == {"code": "R2", "name": "Astromech", "versions": ["D2"]}
    assert added.status_code == 201
    assert added.json()["versions"] == ["A1", "D2"]


def test_duplicates_in_the_catalog_are_409s(manager, catalog):
    assert manager.post("/api/v1/robot-models/", {"code": "R2"}, format="json").status_code == 409
    assert manager.post("/api/v1/robot-models/R2/versions/", {"code": "D2"}, format="json").status_code == 409


def test_a_version_given_twice_is_a_400_naming_it_and_nothing_is_added(manager):
    response = manager.post("/api/v1/robot-models/", {"code": "R2", "versions": ["D2", "A1", "D2"]}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"versions": {"2": ["Given twice (also at 0)."]}}
    assert not RobotModel.objects.exists()


@pytest.mark.parametrize("code", ["R", "R2D", "R-", "Ж2"])
def test_codes_are_exactly_two_letters_or_digits(manager, code):
    response = manager.post("/api/v1/robot-models/", {"code": code}, format="json")

    assert response.status_code == 400
    assert "code" in response.json()["fields"]
    assert not RobotModel.objects.exists()


def test_a_version_of_an_unknown_model_is_a_404(manager):
    assert manager.post("/api/v1/robot-models/X9/versions/", {"code": "D2"}, format="json").status_code == 404


def test_production_lines_read_the_catalog_but_cannot_change_it(line, catalog):
    listed = line.get("/api/v1/robot-models/")

    assert listed.status_code == 200
    assert [(m["code"], m["versions"]) for m in listed.json()["results"]] == [("C3", ["PO"]), ("R2", ["A1", "D2"])]
    assert line.get("/api/v1/robot-models/R2/").json()["versions"] == ["A1", "D2"]
    assert line.post("/api/v1/robot-models/", {"code": "B1"}, format="json").status_code == 403
    assert line.get("/api/v1/robots/").status_code == 403
    assert line.get("/api/v1/stock/").status_code == 403


def test_the_catalog_list_costs_a_fixed_number_of_queries(line):
    for code in ("A1", "B1", "C1", "D1", "E1"):
        RobotVersionFactory(model__code=code, code="V1")
        RobotVersionFactory(model__code=code, code="V2")

    with CaptureQueriesContext(connection) as queries:
        response = line.get("/api/v1/robot-models/")

    assert response.json()["count"] == 5
    assert len(queries) <= 5  # token, roles, count, models, versions


def test_robots_are_listed_newest_first_and_filtered(manager, catalog):
    tz = timezone.get_current_timezone()
    old = RobotFactory(robot_version=catalog[0], created=datetime(2023, 10, 1, 12, tzinfo=tz))
    new = RobotFactory(robot_version=catalog[1], created=datetime(2023, 10, 5, 12, tzinfo=tz))
    RobotFactory(robot_version=catalog[2], created=datetime(2023, 10, 3, 12, tzinfo=tz))

    everything = manager.get("/api/v1/robots/").json()
    by_version = manager.get("/api/v1/robots/", {"model": "R2", "version": "D2"}).json()
    in_range = manager.get(
        "/api/v1/robots/", {"created_after": "2023-10-02T00:00:00+03:00", "created_before": "2023-10-04T00:00:00+03:00"}
    ).json()

    assert everything["results"][0]["id"] == new.pk
    assert [r["id"] for r in by_version["results"]] == [old.pk]
    assert [r["serial"] for r in in_range["results"]] == ["C3-PO"]


def test_the_robot_list_costs_a_fixed_number_of_queries(manager, catalog):
    RobotFactory.create_batch(20, robot_version=catalog[0])

    with CaptureQueriesContext(connection) as queries:
        response = manager.get("/api/v1/robots/")

    assert response.json()["count"] == 20
    assert len(queries) <= 4


def test_stock_counts_robots_per_serial(client_for_role, catalog):
    RobotFactory.create_batch(3, robot_version=catalog[0])
    RobotFactory(robot_version=catalog[2])

    response = client_for_role("sales").get("/api/v1/stock/")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"serial": "C3-PO", "model": "C3", "version": "PO", "produced": 1, "reserved": 0, "available": 1},
        {"serial": "R2-D2", "model": "R2", "version": "D2", "produced": 3, "reserved": 0, "available": 3},
    ]
