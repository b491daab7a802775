import pytest

pytestmark = pytest.mark.django_db


def test_live_answers_without_touching_dependencies(client):
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_checks_database_broker_and_report_storage(client):
    response = client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "report_storage": "ok",
    }


def test_ready_is_503_and_names_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "down"
    assert response.json()["checks"]["database"]["status"] == "ok"


def test_ready_is_503_when_the_report_directory_is_missing(client, settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "gone"

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["report_storage"]["status"] == "down"
