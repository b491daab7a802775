"""Mailing metrics for /metrics.

Messages and mailings by status are read from PostgreSQL at scrape time. Gateway call
latency is measured in the mailing workers, which are not the web process (and gunicorn
runs prometheus_client in multiprocess mode): each worker adds its chunk's histogram to a
Redis hash (one pipeline per chunk), and the web process exposes that hash at scrape time,
so one scrape sees every worker on every host.
"""

import logging
from collections import Counter

import redis
from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from core.metrics import shared_redis

logger = logging.getLogger(__name__)

GATEWAY_KEY = "r4c:metrics:gateway"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayRecorder:
    """Collects one chunk's gateway calls in memory; `flush()` adds them to Redis at once."""

    def __init__(self):
        self.buckets = Counter()
        self.outcomes = Counter()
        self.total = 0.0
        self.count = 0

    def observe(self, seconds: float, outcome: str) -> None:
        self.count += 1
        self.total += seconds
        self.outcomes[outcome] += 1
        for bound in BUCKETS:
            if seconds <= bound:
                self.buckets[bound] += 1
                break

    def flush(self) -> None:
        if not self.count:
            return
        try:
            pipe = shared_redis().pipeline(transaction=False)
            for bound, value in self.buckets.items():
                pipe.hincrby(GATEWAY_KEY, f"bucket|{bound}", value)
            for outcome, value in self.outcomes.items():
                pipe.hincrby(GATEWAY_KEY, f"outcome|{outcome}", value)
            pipe.hincrbyfloat(GATEWAY_KEY, "sum", self.total)
            pipe.hincrby(GATEWAY_KEY, "count", self.count)
            pipe.execute()
        except redis.RedisError:
            logger.debug("gateway metrics not recorded", exc_info=True)


class MailingCollector:
    def collect(self):
        messages = GaugeMetricFamily("r4c_mailing_messages", "Mailing messages by status.", labels=["status"])
        mailings = GaugeMetricFamily("r4c_mailings", "Mailings by status.", labels=["status"])
        from mailings.models import Mailing, MailingStatus, Message, MessageStatus

        message_counts = dict.fromkeys(MessageStatus.values, 0)
        mailing_counts = dict.fromkeys(MailingStatus.values, 0)
        try:
            message_counts.update(Message.objects.order_by().values_list("status").annotate(n=Count("*")))
            mailing_counts.update(
                Mailing.objects.filter(deleted_at__isnull=True).order_by().values_list("status").annotate(n=Count("*"))
            )
        except DatabaseError:
            logger.warning("mailing metrics unavailable", exc_info=True)
            return
        for status, value in sorted(message_counts.items()):
            messages.add_metric([status], value)
        for status, value in sorted(mailing_counts.items()):
            mailings.add_metric([status], value)
        yield messages
        yield mailings


class GatewayCollector:
    def collect(self):
        try:
            raw = shared_redis().hgetall(GATEWAY_KEY)
        except redis.RedisError:
            raw = {}
        cumulative = 0
        buckets = []
        for bound in BUCKETS:
            cumulative += int(raw.get(f"bucket|{bound}", 0))
            buckets.append((str(bound), cumulative))
        count = int(raw.get("count", 0))
        buckets.append(("+Inf", count))
        histogram = HistogramMetricFamily(
            "r4c_gateway_request_duration_seconds", "SMS gateway call latency, over every mailing worker."
        )
        histogram.add_metric([], buckets, sum_value=float(raw.get("sum", 0.0)))
        yield histogram
        calls = CounterMetricFamily("r4c_gateway_requests", "SMS gateway calls by outcome.", labels=["outcome"])
        for key, value in sorted(raw.items()):
            if key.startswith("outcome|"):
                calls.add_metric([key.partition("|")[2]], float(value))
        yield calls
