"""Timers inside the web process: per middleware, per named function (span), per SQL statement.

One gunicorn sync worker serves one request at a time, so one record per process is
enough. Each request appends one JSON line to PROFILE_DIR/PID.jsonl:
    {"path", "method", "status", "total_ns", "cpu_ns" (this process's CPU), "middleware_ns": [...],
     "spans": {name: [calls, ns]},
     "sql": {statement: [calls, ns]}}
Spans are inclusive (a span inside another counts in both); a span entered again while it
runs (recursion) counts once. A span whose target does not exist is listed in
PROFILE_DIR/missing-PID.json, so a moved function shows up instead of silently reading 0.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from profiling.spans import SPANS

_record: dict | None = None
_active: set[str] = set()
_installed = False
_output = None
_WHITESPACE = re.compile(r"\s+")
_SAVEPOINT_NAME = re.compile(r'"s\d+_x\d+"')  # Django names each savepoint uniquely


def _span(name: str, function):
    @functools.wraps(function)
    def timed(*args, **kwargs):
        if _record is None or name in _active:
            return function(*args, **kwargs)
        _active.add(name)
        started = time.perf_counter_ns()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = time.perf_counter_ns() - started
            _active.discard(name)
            if _record is not None:
                entry = _record["spans"].setdefault(name, [0, 0])
                entry[0] += 1
                entry[1] += elapsed

    return timed


def _resolve(target: str):
    module_name, _, qualname = target.partition(":")
    owner = importlib.import_module(module_name)
    *parents, attribute = qualname.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    if attribute not in vars(owner) and not hasattr(owner, attribute):
        raise AttributeError(target)
    return owner, attribute


def install() -> None:
    """Wraps every SPANS target once per process (in the gunicorn master when preloaded)."""
    global _installed
    if _installed:
        return
    _installed = True
    missing = []
    for name, target in SPANS:
        try:
            owner, attribute = _resolve(target)
        except (ImportError, AttributeError):
            missing.append({"span": name, "target": target})
            continue
        raw = inspect_raw(owner, attribute)
        if isinstance(raw, property):
            setattr(owner, attribute, property(_span(name, raw.fget), raw.fset, raw.fdel))
        elif isinstance(raw, staticmethod):
            setattr(owner, attribute, staticmethod(_span(name, raw.__func__)))
        elif isinstance(raw, classmethod):
            setattr(owner, attribute, classmethod(_span(name, raw.__func__)))
        else:
            setattr(owner, attribute, _span(name, getattr(owner, attribute)))
    directory = Path(os.environ["PROFILE_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "missing.json").write_text(json.dumps(missing))
    # The whole of Django's share of a request: request signals, the middleware, the view.
    from django.core.handlers.wsgi import WSGIHandler

    WSGIHandler.__call__ = _outermost(WSGIHandler.__call__)


def inspect_raw(owner, attribute):
    for klass in getattr(owner, "__mro__", [owner]):
        if attribute in vars(klass):
            return vars(klass)[attribute]
    return getattr(owner, attribute)


def _sql_timer(execute, sql, params, many, context):
    started = time.perf_counter_ns()
    try:
        return execute(sql, params, many, context)
    finally:
        if _record is not None:
            key = _SAVEPOINT_NAME.sub('"s…"', _WHITESPACE.sub(" ", str(sql))).strip()[:160]
            entry = _record["sql"].setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += time.perf_counter_ns() - started


def _outermost(handler_call):
    @functools.wraps(handler_call)
    def call(self, environ, start_response):
        global _record, _output
        statuses = []

        def recording_start_response(status, headers, *args):
            statuses.append(status.split()[0])
            return start_response(status, headers, *args)

        _record = {"spans": {}, "sql": {}, "ins": {}, "outs": {}}
        cpu_started = time.process_time_ns()
        started = time.perf_counter_ns()
        with connection.execute_wrapper(_sql_timer):
            response = handler_call(self, environ, recording_start_response)
        total = time.perf_counter_ns() - started
        cpu = time.process_time_ns() - cpu_started
        record, _record = _record, None
        ins, outs = record.pop("ins"), record.pop("outs")
        middleware_ns = []
        count = len(settings.MIDDLEWARE) // 2
        for index in range(1, count + 1):
            if index in ins and index - 1 in ins:
                middleware_ns.append((ins[index] - ins[index - 1]) + (outs[index - 1] - outs[index]))
            else:
                middleware_ns.append(None)  # a middleware before it answered by itself
        record.update(
            path=environ.get("PATH_INFO"),
            method=environ.get("REQUEST_METHOD"),
            status=statuses[0] if statuses else "",
            total_ns=total,
            cpu_ns=cpu,
            inner_ns=(outs[count] - ins[count]) if count in ins else None,
            middleware_ns=middleware_ns,
            middleware=[settings.MIDDLEWARE[2 * i - 1] for i in range(1, count + 1)],
        )
        if _output is None:
            _output = open(Path(os.environ["PROFILE_DIR"]) / f"{os.getpid()}.jsonl", "a")  # noqa: SIM115
        _output.write(json.dumps(record) + "\n")
        _output.flush()
        return response

    return call


class _Probe:
    index = 0

    def __init__(self, get_response):
        self.get_response = get_response
        install()

    def __call__(self, request):
        record = _record
        if record is not None:
            record["ins"][self.index] = time.perf_counter_ns()
        try:
            return self.get_response(request)
        finally:
            if record is not None:
                record["outs"][self.index] = time.perf_counter_ns()


for _index in range(40):
    globals()[f"Probe{_index}"] = type(f"Probe{_index}", (_Probe,), {"index": _index})
