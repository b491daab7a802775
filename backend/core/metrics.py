"""Prometheus metrics: HTTP metrics (django-prometheus' middleware, its families the platform
reads) plus the collectors of the apps.

Celery task outcomes are not counted here: the workers send task events, and Flower
(worker/bin/flower) turns them into `flower_events_total{task,type}` and
`flower_task_runtime_seconds` on its own /metrics.
"""

import os
import sys

import redis
from django.conf import settings
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse
from django_prometheus.conf import NAMESPACE, PROMETHEUS_LATENCY_BUCKETS
from django_prometheus.middleware import Metrics, PrometheusAfterMiddleware, PrometheusBeforeMiddleware
from django_prometheus.utils import Time, TimeSince
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_redis_client: redis.Redis | None = None


def shared_redis() -> redis.Redis:
    """The Redis client for metrics that several processes write and the web process reads
    at scrape time (the broker's server), made on first use in each process."""
    global _redis_client
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1, decode_responses=True
        )
    return _redis_client


# Collectors of our own; apps register theirs here (state read from the database).
extra_registry = CollectorRegistry()


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. nginx does not expose it; scrape the backend directly."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # gunicorn: sum the files of every worker
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry) + generate_latest(extra_registry), content_type=CONTENT_TYPE_LATEST)


class HttpMetrics(Metrics):
    """The HTTP families the platform reads (README, Operations), out of django-prometheus' 20:
    requests by method; responses by status, view and method; latency by view and method, and
    including the middleware; exceptions by type and by view. The others (by transport, by
    charset, body-size histograms, AJAX, streaming, template name, the before-middleware
    totals) add nothing these do not give and cost a write to a shared memory map each on
    every request (~0.3 ms of a robot POST's ~5 ms of CPU, measured with both middleware
    removed), so they are not registered."""

    _instance = None

    def register(self) -> None:
        latency = {"buckets": PROMETHEUS_LATENCY_BUCKETS, "namespace": NAMESPACE}
        self.requests_latency_before = self.register_metric(
            Histogram,
            "django_http_requests_latency_including_middlewares_seconds",
            "Histogram of requests processing time (including middleware processing time).",
            **latency,
        )
        self.requests_latency_by_view_method = self.register_metric(
            Histogram,
            "django_http_requests_latency_seconds_by_view_method",
            "Histogram of request processing time labelled by view.",
            ["view", "method"],
            **latency,
        )
        self.requests_by_method = self.register_metric(
            Counter,
            "django_http_requests_total_by_method",
            "Count of requests by method.",
            ["method"],
            namespace=NAMESPACE,
        )
        self.responses_by_status_view_method = self.register_metric(
            Counter,
            "django_http_responses_total_by_status_view_method",
            "Count of responses by status, view, method.",
            ["status", "view", "method"],
            namespace=NAMESPACE,
        )
        self.exceptions_by_type = self.register_metric(
            Counter,
            "django_http_exceptions_total_by_type",
            "Count of exceptions by object type.",
            ["type"],
            namespace=NAMESPACE,
        )
        self.exceptions_by_view = self.register_metric(
            Counter,
            "django_http_exceptions_total_by_view",
            "Count of exceptions by view.",
            ["view"],
            namespace=NAMESPACE,
        )


class HttpMetricsBeforeMiddleware(PrometheusBeforeMiddleware):
    """First middleware: the latency including every other middleware (django-prometheus)."""

    metrics_cls = HttpMetrics

    def process_request(self, request: HttpRequest) -> None:
        request.prometheus_before_middleware_event = Time()

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if hasattr(request, "prometheus_before_middleware_event"):
            self.metrics.requests_latency_before.observe(TimeSince(request.prometheus_before_middleware_event))
        return response


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.view_name if match is not None else None) or "<unnamed view>"


def _count_uncaught_exception(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """got_request_exception: an exception that became a 500 without process_exception seeing
    it, the API's write views' (ApiWriteTransactionMiddleware calls them from its process_view,
    and Django gives process_exception only what the view itself raised). Sent from within
    the `except` that caught it, so sys.exc_info() holds it."""
    exception = sys.exc_info()[1]
    if request is None or exception is None or getattr(request, "prometheus_exception_counted", False):
        return
    metrics = HttpMetrics.get_instance()
    metrics.exceptions_by_type.labels(type=type(exception).__name__).inc()
    metrics.exceptions_by_view.labels(view=_view_name(request)).inc()


class HttpMetricsAfterMiddleware(PrometheusAfterMiddleware):
    """Last but the view-wrapping ones: requests, responses and latency by view and method, and
    exceptions (django-prometheus' label names, so its dashboards work): those a view raises,
    in process_exception, and those that reach Django's 500 another way (got_request_exception)."""

    metrics_cls = HttpMetrics

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        got_request_exception.connect(_count_uncaught_exception, dispatch_uid="core.metrics.uncaught_exception")

    def process_request(self, request: HttpRequest) -> None:
        self.metrics.requests_by_method.labels(method=self._method(request)).inc()
        request.prometheus_after_middleware_event = Time()

    def process_view(self, request: HttpRequest, view_func, *view_args, **view_kwargs) -> None:
        return None

    def process_template_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        view, method = self._get_view_name(request), self._method(request)
        self.metrics.responses_by_status_view_method.labels(
            status=str(response.status_code), view=view, method=method
        ).inc()
        if hasattr(request, "prometheus_after_middleware_event"):
            self.metrics.requests_latency_by_view_method.labels(view=view, method=method).observe(
                TimeSince(request.prometheus_after_middleware_event)
            )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        self.metrics.exceptions_by_type.labels(type=type(exception).__name__).inc()
        self.metrics.exceptions_by_view.labels(view=self._get_view_name(request)).inc()
        request.prometheus_exception_counted = True  # not again when it becomes a 500
