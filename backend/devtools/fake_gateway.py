"""A fake SMS gateway speaking the contract of DESIGN.md §4, with faults switchable at runtime.

    python -m devtools.fake_gateway --port 8090 [--token T] [--latency-ms 20]

Used by the tests, `make dev`, the benchmarks and the `fake-gateway` compose service
(profile `dev`). Only the standard library and aiohttp: no Django, so it starts in a blink.

    POST /v1/send/{id}   {"id": id, "phone": 79XXXXXXXXX, "text": "..."}  → 200 {"code": 0, "message": "OK"}

Only that answer accepts a message: a message counts as delivered (`/_control/deliveries`)
when the fake answered it with the contract's 200 {"code": 0}. Every other answer, the odd
ones included, leaves it undelivered, so a client that records `sent` for anything else is
caught by comparing its records with the deliveries.

Faults (POST /_control/faults, JSON; every key optional):
    latency_ms, latency_jitter_ms    delay before answering
    error_ratio, error_status        answer {"code": 1} with error_status (500 by default)
    malformed_ratio                  200 with an HTML body
    code_ratio                       200 with a non-zero code (7)
    hang_ratio                       never answer (until the client gives up)
    reject_ratio                     400: a final refusal
    down                             close connections without an answer
    answer, answer_ratio             answer `answer_ratio` of the calls (1 by default) with one of
                                     the odd answers below instead of the contract's
    answer_by_phone                  {phone prefix: odd answer}: messages to phones starting with
                                     a prefix get that answer (before `answer`), so one mailing
                                     meets every odd answer at once
    answer_attempts                  ...only a message's first N attempts (0: every attempt)
    retry_after, retry_after_format  the Retry-After of `rate_limited`/`unavailable`: seconds
                                     (null: no header), written as "seconds" or as an HTTP "date"
    huge_bytes                       the size of a `huge` answer (64 MiB by default)
    slow_ms                          how long a `slow` answer stalls after its first bytes

Odd answers (`answer`):
    redirect       301 to /v1/moved/{id}, where a GET answers 200 {"code": 0}: a client that
                   follows redirects believes the message was sent (it was not)
    code_false     200 {"code": false}          code_string   200 {"code": "0"}
    code_float     200 {"code": 0.0}            code_missing  200 {"message": "OK"}
    code_null      200 {"code": null}           not_object    200 [{"code": 0}]
    not_json       200 with an HTML page        status_202    202 {"code": 0}
    rate_limited   429 with Retry-After         unavailable   503 with Retry-After
    huge           200 {"code": 0, ...} padded to huge_bytes, chunked (no Content-Length)
    huge_declared  the same with its Content-Length
    slow           200 {"code": 0}: the first bytes, then a stall of slow_ms, then the rest

Control:
    GET  /_control/faults        the current faults
    POST /_control/faults        change some (unknown keys or answers: 400)
    POST /_control/reset         faults off, records forgotten
    GET  /_control/stats         calls by outcome, deliveries, duplicates, bytes of huge answers sent,
                                 the most calls answered at once (max_in_flight)
    GET  /_control/deliveries    every accepted message: {id: {"phone", "text", "at", "count"}}
    GET  /_control/attempts      every call per message, in order:
                                 {id: [{"at", "answer", "not_before"?}, ...]}; `not_before` is
                                 the moment a Retry-After asked the client to wait for
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
from email.utils import formatdate

from aiohttp import web

OK_BODY = b'{"code": 0, "message": "OK"}'
ODD_ANSWERS = {
    "redirect",
    "code_false",
    "code_string",
    "code_float",
    "code_missing",
    "code_null",
    "not_object",
    "not_json",
    "status_202",
    "rate_limited",
    "unavailable",
    "huge",
    "huge_declared",
    "slow",
}
# Bodies of the odd 200 answers that are complete JSON documents.
ODD_BODIES = {
    "code_false": {"code": False, "message": "OK"},
    "code_string": {"code": "0", "message": "OK"},
    "code_float": {"code": 0.0, "message": "OK"},
    "code_missing": {"message": "OK"},
    "code_null": {"code": None, "message": "OK"},
    "not_object": [{"code": 0, "message": "OK"}],
}
DEFAULT_FAULTS = {
    "latency_ms": 0.0,
    "latency_jitter_ms": 0.0,
    "error_ratio": 0.0,  # answered with error_status
    "error_status": 500,
    "malformed_ratio": 0.0,  # 200 with a body that is not the contract's
    "code_ratio": 0.0,  # 200 with a non-zero code
    "hang_ratio": 0.0,  # never answered (until the client gives up)
    "reject_ratio": 0.0,  # 400: a final refusal
    "down": False,  # connections closed without an answer
    "answer": "",  # one of ODD_ANSWERS in place of the contract's
    "answer_ratio": 1.0,
    "answer_attempts": 0,  # only the first N attempts of each message (0: all)
    "answer_by_phone": {},  # {phone prefix: odd answer}, before `answer`
    "retry_after": 5,  # seconds; None: no Retry-After header
    "retry_after_format": "seconds",  # or "date" (an HTTP date, RFC 9110 §10.2.3)
    "huge_bytes": 64 * 1024 * 1024,
    "slow_ms": 5000.0,
}
CHUNK = 64 * 1024


class FakeGateway:
    def __init__(self, *, token: str = "", faults: dict | None = None):
        self.token = token
        self.faults = {**DEFAULT_FAULTS, **(faults or {})}
        self.records_since = 0  # which reset the records (and a call) belong to
        self.reset_records()

    def reset_records(self) -> None:
        self.deliveries: dict[str, dict] = {}
        self.attempts: dict[str, list[dict]] = {}
        self.outcomes: dict[str, int] = {}
        self.duplicates = 0
        self.huge_bytes_sent = 0
        self.first_call_at: float | None = None
        self.last_call_at: float | None = None
        # The most calls answered at once, counting only calls made since this reset (calls of a
        # test before it may still be waiting out a latency): shows a client's concurrency.
        self.records_since += 1
        self.in_flight = 0
        self.max_in_flight = 0

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    async def send(self, request: web.Request) -> web.StreamResponse:
        records = self.records_since
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._send(request)
        finally:
            if records == self.records_since:
                self.in_flight -= 1

    async def _send(self, request: web.Request) -> web.StreamResponse:
        faults = self.faults
        now = self.last_call_at = time.time()
        self.first_call_at = self.first_call_at or now
        message_id = request.match_info["id"]
        attempt = {"at": now, "answer": "ok"}
        attempts = self.attempts.setdefault(message_id, [])
        attempts.append(attempt)
        if faults["down"]:
            attempt["answer"] = "down"
            self._count("down")
            request.transport.close()
            raise web.HTTPServiceUnavailable()
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            attempt["answer"] = "unauthorized"
            self._count("unauthorized")
            return web.json_response({"code": 401, "message": "bad token"}, status=401)
        latency = faults["latency_ms"] + random.random() * faults["latency_jitter_ms"]
        if latency:
            await asyncio.sleep(latency / 1000)
        try:
            body = json.loads(await request.read())
            valid = str(body["id"]) == message_id and isinstance(body["phone"], int) and isinstance(body["text"], str)
        except (ValueError, KeyError, TypeError):
            valid = False
        odd = self._odd_answer(body["phone"] if valid else None, len(attempts))
        if odd:
            attempt["answer"] = odd
            self._count(odd)
            return await self._odd(request, odd, attempt)
        for fault, outcome in (("hang_ratio", "hang"), ("error_ratio", "error"), ("malformed_ratio", "malformed")):
            if faults[fault] and random.random() < faults[fault]:
                attempt["answer"] = outcome
                self._count(outcome)
                if outcome == "hang":
                    await asyncio.sleep(3600)
                if outcome == "error":
                    return web.json_response(
                        {"code": 1, "message": "internal error"}, status=int(faults["error_status"])
                    )
                return web.Response(body=b"<html>oops", content_type="text/html")
        if faults["code_ratio"] and random.random() < faults["code_ratio"]:
            attempt["answer"] = "code"
            self._count("code")
            return web.json_response({"code": 7, "message": "try later"})
        if not valid:
            attempt["answer"] = "invalid"
            self._count("invalid")
            return web.json_response({"code": 400, "message": "invalid body"}, status=400)
        if faults["reject_ratio"] and random.random() < faults["reject_ratio"]:
            attempt["answer"] = "rejected"
            self._count("rejected")
            return web.json_response({"code": 400, "message": "rejected"}, status=400)
        record = self.deliveries.get(message_id)
        if record is None:
            self.deliveries[message_id] = {"phone": body["phone"], "text": body["text"], "at": time.time(), "count": 1}
        else:  # a retry of an accepted message: the id makes it safe, we only count it
            record["count"] += 1
            self.duplicates += 1
        self._count("ok")
        return web.Response(body=OK_BODY, content_type="application/json")

    def _odd_answer(self, phone: int | None, attempt_number: int) -> str:
        """The odd answer for this call, if any: by the phone's prefix, else the global one."""
        faults = self.faults
        if faults["answer_attempts"] and attempt_number > faults["answer_attempts"]:
            return ""
        if phone is not None:
            for prefix, answer in faults["answer_by_phone"].items():
                if str(phone).startswith(prefix):
                    return answer
        if faults["answer"] and random.random() < faults["answer_ratio"]:
            return faults["answer"]
        return ""

    async def _odd(self, request: web.Request, odd: str, attempt: dict) -> web.StreamResponse:
        """One odd answer; none of them accepts the message."""
        if odd == "redirect":
            raise web.HTTPMovedPermanently(location=f"/v1/moved/{request.match_info['id']}")
        if odd in ODD_BODIES:
            return web.json_response(ODD_BODIES[odd])
        if odd == "not_json":
            return web.Response(body=b"<html><body>Service moved</body></html>", content_type="text/html")
        if odd == "status_202":
            return web.Response(status=202, body=OK_BODY, content_type="application/json")
        if odd in ("rate_limited", "unavailable"):
            headers = {}
            seconds = self.faults["retry_after"]
            if seconds is not None:
                if self.faults["retry_after_format"] == "date":
                    # HTTP dates have whole seconds: the moment asked for is rounded up to one.
                    not_before = math.ceil(attempt["at"] + float(seconds))
                    headers["Retry-After"] = formatdate(not_before, usegmt=True)
                else:
                    not_before = attempt["at"] + float(seconds)
                    headers["Retry-After"] = str(seconds)
                attempt["not_before"] = not_before
            status = 429 if odd == "rate_limited" else 503
            return web.json_response({"code": status, "message": "slow down"}, status=status, headers=headers)
        if odd in ("huge", "huge_declared"):
            return await self._huge(request, declared=odd == "huge_declared")
        return await self._slow(request)

    async def _huge(self, request: web.Request, *, declared: bool) -> web.StreamResponse:
        size = int(self.faults["huge_bytes"])
        head, tail = b'{"code": 0, "message": "OK", "padding": "', b'"}'
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if declared:
            response.content_length = size
        else:
            response.enable_chunked_encoding()
        padding = b" " * CHUNK
        try:
            await response.prepare(request)
            await response.write(head)
            left = size - len(head) - len(tail)
            while left > 0:
                piece = padding[: min(CHUNK, left)]
                await response.write(piece)
                self.huge_bytes_sent += len(piece)
                left -= len(piece)
            await response.write(tail)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client stopped reading: what it took is in huge_bytes_sent
        return response

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(OK_BODY)
        try:
            await response.prepare(request)
            await response.write(OK_BODY[:1])
            await asyncio.sleep(self.faults["slow_ms"] / 1000)
            await response.write(OK_BODY[1:])
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    async def moved(self, request: web.Request) -> web.Response:
        """Where `redirect` points: a GET here looks like a success, and delivers nothing."""
        self._count("moved")
        return web.Response(body=OK_BODY, content_type="application/json")

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults)

    async def set_faults(self, request: web.Request) -> web.Response:
        changes = await request.json()
        unknown = set(changes) - set(DEFAULT_FAULTS)
        if unknown:
            return web.json_response({"unknown": sorted(unknown)}, status=400)
        answers = {changes.get("answer") or "", *changes.get("answer_by_phone", {}).values()} - {""}
        if answers - ODD_ANSWERS:
            return web.json_response(
                {"unknown answers": sorted(answers - ODD_ANSWERS), "answers": sorted(ODD_ANSWERS)}, status=400
            )
        self.faults.update(changes)
        return web.json_response(self.faults)

    async def reset(self, request: web.Request) -> web.Response:
        self.faults = dict(DEFAULT_FAULTS)
        self.reset_records()
        return web.json_response(self.faults)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "outcomes": self.outcomes,
                "delivered": len(self.deliveries),
                "duplicates": self.duplicates,
                "huge_bytes_sent": self.huge_bytes_sent,
                "first_call_at": self.first_call_at,
                "last_call_at": self.last_call_at,
                "max_in_flight": self.max_in_flight,
            }
        )

    async def get_deliveries(self, request: web.Request) -> web.Response:
        return web.json_response(self.deliveries)

    async def get_attempts(self, request: web.Request) -> web.Response:
        return web.json_response(self.attempts)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/send/{id}", self.send)
        app.router.add_route("*", "/v1/moved/{id}", self.moved)
        app.router.add_get("/_control/faults", self.get_faults)
        app.router.add_post("/_control/faults", self.set_faults)
        app.router.add_post("/_control/reset", self.reset)
        app.router.add_get("/_control/stats", self.stats)
        app.router.add_get("/_control/deliveries", self.get_deliveries)
        app.router.add_get("/_control/attempts", self.get_attempts)
        app.router.add_get("/health", lambda request: web.json_response({"status": "ok"}))
        return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", default="", help="the Bearer token to require (none: any)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        import uvloop  # faster when present; not required

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    gateway = FakeGateway(token=args.token, faults={"latency_ms": args.latency_ms})
    print(f"fake gateway on http://{args.host}:{args.port}", flush=True)
    # Hanging calls must not hold a stop back: a short grace period, then connections are cut.
    web.run_app(
        gateway.app(), host=args.host, port=args.port, access_log=None, print=None, backlog=4096, shutdown_timeout=0.5
    )


if __name__ == "__main__":
    main()
