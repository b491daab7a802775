import pytest
from prometheus_client.parser import text_string_to_metric_families

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
