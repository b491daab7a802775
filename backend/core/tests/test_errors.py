"""Bad input gets a clear 4xx in the one error shape, never a 500."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def test_malformed_json_is_a_400_that_says_so(client):
    response = client.post(TOKEN_URL, data='{"username": "a", ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "JSON" in response.json()["detail"]


def test_a_content_type_the_api_does_not_take_is_a_415(client):
    response = client.post(TOKEN_URL, data="username=a", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@override_settings(MAX_BODY_SIZE=1024)
def test_an_oversized_body_is_a_413_before_it_is_read(client):
    response = client.post(TOKEN_URL, data='{"username": "' + "a" * 2000 + '"}', content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_a_non_object_body_names_the_problem(client):
    response = client.post(TOKEN_URL, data="[1, 2]", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["fields"]["non_field_errors"]


def test_missing_fields_are_named_one_by_one(client):
    response = client.post(TOKEN_URL, data={}, content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password"}


def test_unknown_api_route_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_every_response_carries_a_request_id_and_keeps_a_uuid_from_the_caller(client):
    nginx_style = "3f2b8c1d9e4a4f6b8c7d2e1f0a9b8c7d"  # nginx's $request_id: 32 hex digits

    generated = client.get("/health/live")
    echoed = client.get("/health/live", HTTP_X_REQUEST_ID=nginx_style)
    refused = client.get("/health/live", HTTP_X_REQUEST_ID="bad id\n")
    not_a_uuid = client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")

    assert len(generated["X-Request-ID"]) == 32
    assert echoed["X-Request-ID"] == nginx_style
    assert refused["X-Request-ID"] != "bad id\n"
    assert len(refused["X-Request-ID"]) == 32
    assert not_a_uuid["X-Request-ID"] != "abc-123"
