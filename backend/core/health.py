"""Health endpoints: `live` says the process answers, `ready` checks what requests need."""

import logging
import os
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from kombu import Connection

logger = logging.getLogger(__name__)


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2, transport_options={"socket_timeout": 2}) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        conn.default_channel  # noqa: B018 (opening a channel makes the transport really talk to the broker)


def check_report_storage() -> None:
    directory = settings.REPORTS_DIR
    if not os.path.isdir(directory):
        raise OSError(f"{directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OSError(f"{directory} is not writable")


CHECKS = {"database": check_database, "broker": check_broker, "report_storage": check_report_storage}


def ready(request: HttpRequest) -> JsonResponse:
    results = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # any failure means not ready; say which and why
            # The cause goes to the log only: this page is public behind nginx.
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = {"status": "down"}
            healthy = False
        else:
            results[name] = {"status": "ok", "ms": round((time.monotonic() - started) * 1000, 1)}
    return JsonResponse({"status": "ok" if healthy else "down", "checks": results}, status=200 if healthy else 503)
