"""Prometheus metrics: the HTTP metrics of django-prometheus plus Celery task outcomes.

Task outcomes are counted in Redis by the workers (signals below) and read at scrape
time, so one scrape of the web process sees every worker, on any host.
"""

import logging
import os

import redis
from celery import signals
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

logger = logging.getLogger(__name__)

TASK_COUNTS_KEY = "r4c:metrics:celery_tasks"
_redis_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _redis_client
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1, decode_responses=True
        )
    return _redis_client


def count_task(task_name: str, state: str) -> None:
    try:
        _redis().hincrby(TASK_COUNTS_KEY, f"{task_name}|{state}", 1)
    except redis.RedisError:
        logger.debug("task metric not recorded", exc_info=True)


@signals.task_success.connect
def _on_task_success(sender=None, **kwargs) -> None:
    count_task(sender.name, "succeeded")


@signals.task_failure.connect
def _on_task_failure(sender=None, **kwargs) -> None:
    count_task(sender.name, "failed")


@signals.task_retry.connect
def _on_task_retry(sender=None, **kwargs) -> None:
    count_task(sender.name, "retried")


class TaskCountCollector:
    def collect(self):
        family = CounterMetricFamily(
            "r4c_celery_tasks", "Celery tasks finished, by task and state.", labels=["task", "state"]
        )
        try:
            counts = _redis().hgetall(TASK_COUNTS_KEY)
        except redis.RedisError:
            counts = {}
        for field, value in sorted(counts.items()):
            task, _, state = field.partition("|")
            family.add_metric([task, state], float(value))
        yield family


# Collectors of our own; apps register theirs here (state read from the database).
extra_registry = CollectorRegistry()
extra_registry.register(TaskCountCollector())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. nginx does not expose it; scrape the backend directly."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # gunicorn: sum the files of every worker
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry) + generate_latest(extra_registry), content_type=CONTENT_TYPE_LATEST)
