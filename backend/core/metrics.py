"""Prometheus metrics: the HTTP metrics of django-prometheus plus the collectors of the apps.

Celery task outcomes are not counted here: the workers send task events, and Flower
(worker/bin/flower) turns them into `flower_events_total{task,type}` and
`flower_task_runtime_seconds` on its own /metrics.
"""

import os

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
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
