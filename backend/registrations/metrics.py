"""Prometheus metrics of the registration requests (served by core.metrics at /metrics).

The metrics are created on first use, not at import: under gunicorn, prometheus_client
keeps them in files under PROMETHEUS_MULTIPROC_DIR, which exists only once gunicorn has
started, while this module is also imported by processes that serve no request
(`manage.py migrate`, workers).
"""

import functools
import logging

logger = logging.getLogger(__name__)


@functools.cache
def _metrics():
    from prometheus_client import Counter, Histogram

    return {
        "requests": Counter(
            "r4c_registration_requests", "Registration requests (POST /api/v1/useradd/), by outcome.", ["outcome"]
        ),
        "duration": Histogram(
            "r4c_registration_request_duration_seconds",
            "Time to answer a registration request (the argon2id hash is most of it).",
            buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5),
        ),
        "spooled": Counter(
            "r4c_registration_request_log_spooled",
            "Registration request log entries kept on disk because the database was unreachable.",
        ),
    }


def registration_request_observe(*, outcome: str, seconds: float) -> None:
    try:
        metrics = _metrics()
        metrics["requests"].labels(outcome=outcome).inc()
        metrics["duration"].observe(seconds)
    except Exception:  # metrics never break a request
        logger.debug("registration request metrics not recorded", exc_info=True)


def registration_request_spooled_count() -> None:
    try:
        _metrics()["spooled"].inc()
    except Exception:
        logger.debug("registration request metrics not recorded", exc_info=True)


class RegistrationRequestSpoolCollector:
    """Log entries on disk rather than in the table, read at scrape time (the directory is
    shared by every web process): waiting for the database, or set aside for staff."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from registrations.services import registration_request_spool_counts

        counts = registration_request_spool_counts()
        family = GaugeMetricFamily(
            "r4c_registration_request_log_spool_entries",
            "Registration request log entries kept on disk: waiting for the database, or set aside (refused by "
            "it even cleaned; listed on /stats/ for staff).",
            labels=["state"],
        )
        family.add_metric(["waiting"], counts.waiting)
        family.add_metric(["set_aside"], counts.set_aside)
        yield family
