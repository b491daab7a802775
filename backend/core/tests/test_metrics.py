import pytest
from django.urls import path
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import metrics_view

pytestmark = pytest.mark.django_db


def test_metrics_expose_http_requests_in_prometheus_format(client):
    client.get("/health/live")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    assert any(name == "django_http_requests_total_by_method_total" for name, _ in samples)


def test_http_metrics_count_by_status_view_and_method_and_time_each_view(client):
    client.get("/health/live")
    client.get("/no-such-page/")

    response = client.get("/metrics")

    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    responses = {
        (sample.labels["status"], sample.labels["view"], sample.labels["method"])
        for sample in families["django_http_responses_total_by_status_view_method"].samples
        if sample.name.endswith("_total")
    }
    assert ("200", "health-live", "GET") in responses
    assert ("404", "<unnamed view>", "GET") in responses
    latency = families["django_http_requests_latency_seconds_by_view_method"]
    assert any(
        sample.name.endswith("_count") and sample.labels["view"] == "health-live" and sample.value >= 1
        for sample in latency.samples
    )
    assert "django_http_requests_latency_including_middlewares_seconds" in families
    # Families nobody reads are not kept (each cost a write on every request).
    assert "django_http_requests_total_by_transport" not in families
    assert "django_http_responses_body_total_bytes" not in families


def _exception_counts(client) -> dict[tuple[str, str], float]:
    families = text_string_to_metric_families(client.get("/metrics").content.decode())
    return {
        (family.name, next(iter(sample.labels.values()))): sample.value
        for family in families
        if family.name in ("django_http_exceptions_total_by_type", "django_http_exceptions_total_by_view")
        for sample in family.samples
        if sample.name.endswith("_total")
    }


class UnforeseenError(RuntimeError):
    pass


def test_an_exception_in_an_api_write_view_is_counted_by_type_and_view(client, client_for_role, monkeypatch):
    # given a robot POST whose service fails in a way nobody foresaw (the view runs inside
    # ApiWriteTransactionMiddleware's process_view, where Django calls no process_exception)
    from robots import services

    def fail(**kwargs):
        raise UnforeseenError("a bug")

    monkeypatch.setattr(services, "robot_create", fail)
    line = client_for_role("production_line", "line-1")
    line.raise_request_exception = False
    before = _exception_counts(client)

    # when it is posted
    response = line.post("/api/v1/robots/", {"model": "R2", "version": "D2", "created": "2023-10-03 23:59:12"})

    # then it is answered 500 and counted once by type and once by view
    assert response.status_code == 500
    _assert_counted_once(before, _exception_counts(client), view="robot-list")


def _assert_counted_once(before: dict, after: dict, *, view: str) -> None:
    by_type = ("django_http_exceptions_total_by_type", "UnforeseenError")
    by_view = ("django_http_exceptions_total_by_view", view)
    assert after.get(by_type, 0) - before.get(by_type, 0) == 1
    assert after.get(by_view, 0) - before.get(by_view, 0) == 1


def _failing_view(request):
    raise UnforeseenError("a bug")


urlpatterns = [path("fail/", _failing_view, name="fail"), path("metrics", metrics_view)]


@pytest.mark.urls(__name__)
def test_an_exception_in_a_plain_view_is_counted_once(client):
    # given a view outside the API, whose exception Django hands to process_exception
    client.raise_request_exception = False
    before = _exception_counts(client)

    response = client.get("/fail/")

    assert response.status_code == 500
    _assert_counted_once(before, _exception_counts(client), view="fail")
