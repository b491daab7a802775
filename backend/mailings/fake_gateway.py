"""A fake SMS gateway speaking the contract of DESIGN.md §4, with faults switchable at runtime.

    python -m mailings.fake_gateway --port 8090 [--token T] [--latency-ms 20]

Used by the tests, `make dev` and the `fake-gateway` compose service (profile `dev`).
Only the standard library and aiohttp: no Django, so it starts in a blink.

    POST /v1/send/{id}   {"id": id, "phone": 79XXXXXXXXX, "text": "..."}  → 200 {"code": 0, "message": "OK"}

Control (JSON):
    GET  /_control/faults        the current faults
    POST /_control/faults        change some: latency_ms, latency_jitter_ms, error_ratio,
                                 error_status, malformed_ratio, hang_ratio, reject_ratio,
                                 code_ratio (200 with a non-zero code), down (close connections)
    POST /_control/reset         faults off, deliveries forgotten
    GET  /_control/stats         calls by outcome, deliveries, duplicates
    GET  /_control/deliveries    every accepted message: {id: {"phone", "text", "at", "count"}}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from aiohttp import web

OK_BODY = b'{"code": 0, "message": "OK"}'
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
}


class FakeGateway:
    def __init__(self, *, token: str = "", faults: dict | None = None):
        self.token = token
        self.faults = {**DEFAULT_FAULTS, **(faults or {})}
        self.reset_records()

    def reset_records(self) -> None:
        self.deliveries: dict[str, dict] = {}
        self.outcomes: dict[str, int] = {}
        self.duplicates = 0
        self.first_call_at: float | None = None
        self.last_call_at: float | None = None

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    async def send(self, request: web.Request) -> web.StreamResponse:
        faults = self.faults
        self.last_call_at = time.time()
        self.first_call_at = self.first_call_at or self.last_call_at
        if faults["down"]:
            self._count("down")
            request.transport.close()
            raise web.HTTPServiceUnavailable()
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            self._count("unauthorized")
            return web.json_response({"code": 401, "message": "bad token"}, status=401)
        latency = faults["latency_ms"] + random.random() * faults["latency_jitter_ms"]
        if latency:
            await asyncio.sleep(latency / 1000)
        if faults["hang_ratio"] and random.random() < faults["hang_ratio"]:
            self._count("hang")
            await asyncio.sleep(3600)
        if faults["error_ratio"] and random.random() < faults["error_ratio"]:
            self._count("error")
            return web.json_response({"code": 1, "message": "internal error"}, status=int(faults["error_status"]))
        if faults["malformed_ratio"] and random.random() < faults["malformed_ratio"]:
            self._count("malformed")
            return web.Response(body=b"<html>oops", content_type="text/html")
        if faults["code_ratio"] and random.random() < faults["code_ratio"]:
            self._count("code")
            return web.json_response({"code": 7, "message": "try later"})
        message_id = request.match_info["id"]
        try:
            body = json.loads(await request.read())
            valid = str(body["id"]) == message_id and isinstance(body["phone"], int) and isinstance(body["text"], str)
        except (ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            self._count("invalid")
            return web.json_response({"code": 400, "message": "invalid body"}, status=400)
        if faults["reject_ratio"] and random.random() < faults["reject_ratio"]:
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

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.faults)

    async def set_faults(self, request: web.Request) -> web.Response:
        changes = await request.json()
        unknown = set(changes) - set(DEFAULT_FAULTS)
        if unknown:
            return web.json_response({"unknown": sorted(unknown)}, status=400)
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
                "first_call_at": self.first_call_at,
                "last_call_at": self.last_call_at,
            }
        )

    async def get_deliveries(self, request: web.Request) -> web.Response:
        return web.json_response(self.deliveries)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/send/{id}", self.send)
        app.router.add_get("/_control/faults", self.get_faults)
        app.router.add_post("/_control/faults", self.set_faults)
        app.router.add_post("/_control/reset", self.reset)
        app.router.add_get("/_control/stats", self.stats)
        app.router.add_get("/_control/deliveries", self.get_deliveries)
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
