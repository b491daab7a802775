"""gunicorn settings for the web process; every knob comes from the environment.

The application is loaded once, in the master (`preload_app`), so a worker is a fork of a
ready process: starting or recycling one costs a fork, not ~2.5 s of imports. Nothing
that holds a socket may cross that fork: the master imports the code and closes every
database connection before it forks (`_finish_preloading`); Redis clients (the cache,
the task-count metrics, Celery's producer) are created lazily, on a worker's first use,
and redis-py rebuilds a pool it finds in another process anyway; the SMS gateway's client
lives in the mailing workers only. Prometheus' per-process files are keyed by pid, and
prometheus_client starts new files when it sees that its pid changed.
"""

import gc
import os
import shutil
import tempfile

# Prometheus metrics are kept per worker process in files and summed on scrape; the
# directory must be known before prometheus_client is imported anywhere.
multiproc_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"r4c-prometheus-{os.getpid()}")
)
# Preloading creates the master's metric files before on_starting runs: the directory must exist.
os.makedirs(multiproc_dir, exist_ok=True)

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "sync"  # nginx buffers slow clients, so sync workers never wait on a socket
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
preload_app = True
# Recycle workers now and then, with jitter so they do not all restart at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# Trust X-Forwarded-* only from the proxy in front of us.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
limit_request_line = 8190


# Young generation every 50,000 net allocations (a few MB of young objects at most), the
# older ones after 20 of the one below (Python's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 20)


def on_starting(server) -> None:
    # Counters of an earlier run are stale; the master's own files (made while preloading)
    # are never written to, and its workers start files of their own.
    shutil.rmtree(multiproc_dir, ignore_errors=True)
    os.makedirs(multiproc_dir, exist_ok=True)
    if server.cfg.preload_app:
        _finish_preloading()


def _finish_preloading() -> None:
    """Imports what Django would otherwise import on each new worker's first request, then
    closes the connections that importing may have opened, so no worker inherits a socket."""
    from django.conf import settings
    from django.db import connections
    from django.urls import get_resolver
    from django.utils import translation

    get_resolver().url_patterns  # noqa: B018 (imports every view module: DRF, the schema, the APIs)
    with translation.override(settings.LANGUAGE_CODE):
        translation.gettext("This field is required.")  # loads the message catalogs once
    connections.close_all()
    # The imported modules live as long as the process: moved out of the collector's sight,
    # a worker's full collections neither walk them nor write to (and so copy) their pages.
    gc.collect()
    gc.freeze()
    # A request allocates thousands of short-lived objects; at Python's default (a young-generation
    # collection every 700 net allocations) a robot POST paid ~0.15 ms of CPU for collections
    # that find almost nothing (interleaved A/B, bench/results/hot_path.md). Workers inherit this.
    gc.set_threshold(*GC_THRESHOLDS)


def pre_fork(server, worker) -> None:
    if server.cfg.preload_app:  # the master must never hand a database connection down
        from django.db import connections

        connections.close_all()


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
