"""The SMS gateway client: one pooled aiohttp session and event loop per worker process.

`gateway()` gives this process's client. `Gateway.send_many()` posts a chunk of messages
concurrently (at most GATEWAY_CONCURRENCY in flight), under a rate limit shared by every
worker through Redis (GATEWAY_RATE_LIMIT) and a circuit breaker, and returns one
`Outcome` per message; it never raises for a gateway fault. Recording outcomes is the
dispatcher's job (mailings.dispatcher).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from dataclasses import dataclass, field

import aiohttp
import redis.asyncio as aioredis
from django.conf import settings

from mailings import metrics

logger = logging.getLogger(__name__)

SENT = "sent"  # the gateway said OK
RETRY = "retry"  # timeout, 5xx, 429, malformed answer, non-zero code: try again after a back-off
FAILED = "failed"  # 4xx other than 429: the gateway will never accept it
DEFERRED = "deferred"  # not tried (circuit open, end reached): try later, no attempt counted


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    phone_number: str
    text: str
    mailing_id: int | None = None


@dataclass
class Outcome:
    message_id: int
    result: str
    error: str = ""
    retry_at: float | None = None  # for DEFERRED: not before this (time.time())


class CircuitBreaker:
    """Opens when `min_calls` calls in a row failed, or most of the recent calls did; then
    lets one probe through per cool-down.

    A dead gateway costs one call per cool-down (growing up to a maximum) instead of a
    flood; a flaky one (half the calls fail) stays closed, retries deliver.
    """

    def __init__(self, *, window: int, min_calls: int, failure_ratio: float, cooldown: float, max_cooldown: float):
        self.window = collections.deque(maxlen=window)
        self.min_calls = min_calls
        self.failure_ratio = failure_ratio
        self.base_cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.trips = 0
        self.open_until = 0.0
        self.probing = False
        self.consecutive_failures = 0

    @property
    def is_open(self) -> bool:
        return self.trips > 0

    def remaining(self) -> float:
        return max(0.0, self.open_until - time.time()) if self.is_open else 0.0

    def allow(self) -> bool:
        if not self.is_open:
            return True
        if self.probing or time.time() < self.open_until:
            return False
        self.probing = True  # half-open: this one call is the probe
        return True

    def record(self, *, ok: bool) -> None:
        if self.is_open:
            if not self.probing:
                return  # an answer to a call started before the circuit opened
            self.probing = False
            if ok:
                logger.info("gateway circuit closed: the probe succeeded")
                self.trips = 0
                self.window.clear()
            else:
                self._trip()
            return
        self.window.append(ok)
        self.consecutive_failures = 0 if ok else self.consecutive_failures + 1
        failures = self.window.count(False)
        if self.consecutive_failures >= self.min_calls or (
            len(self.window) >= self.min_calls and failures / len(self.window) >= self.failure_ratio
        ):
            self._trip()

    def _trip(self) -> None:
        self.trips += 1
        cooldown = min(self.max_cooldown, self.base_cooldown * 2 ** (self.trips - 1))
        self.open_until = time.time() + cooldown
        self.window.clear()
        self.consecutive_failures = 0
        logger.warning("gateway circuit open for %.1fs (trip %d)", cooldown, self.trips)


class RateLimiter:
    """At most `limit` calls per second over all workers: a fixed one-second window counted
    in Redis, taken in small batches so a call rarely costs a Redis round trip."""

    KEY = "r4c:gateway:rate:{}"
    _SCRIPT = """
    local used = redis.call('INCRBY', KEYS[1], ARGV[1])
    if used == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], 5000) end
    local before = used - tonumber(ARGV[1])
    local limit = tonumber(ARGV[2])
    if before >= limit then return 0 end
    return math.min(tonumber(ARGV[1]), limit - before)
    """

    def __init__(self, *, limit: int, redis_url: str):
        self.limit = limit
        self.redis_url = redis_url
        self.batch = max(1, min(50, limit // 20))
        self.tokens = 0
        self.lock: asyncio.Lock | None = None
        self.client: aioredis.Redis | None = None

    async def acquire(self) -> None:
        if self.limit <= 0:
            return
        if self.lock is None:
            self.lock = asyncio.Lock()
            self.client = aioredis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        async with self.lock:
            while self.tokens <= 0:
                now = time.time()
                second = int(now)
                try:
                    granted = int(
                        await self.client.eval(self._SCRIPT, 1, self.KEY.format(second), self.batch, self.limit)
                    )
                except Exception:  # Redis unavailable: hold back a little rather than exceed the limit
                    logger.warning("rate limiter: Redis unavailable", exc_info=True)
                    granted = 0
                if granted:
                    self.tokens += granted
                else:
                    await asyncio.sleep(max(0.005, second + 1 - now))
            self.tokens -= 1


@dataclass
class Gateway:
    url: str
    token: str
    timeout: float
    connect_timeout: float
    concurrency: int
    breaker: CircuitBreaker
    limiter: RateLimiter
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    session: aiohttp.ClientSession | None = None

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        if self.session is not None and not self.session.closed:
            self.run(self.session.close())
        self.loop.close()

    async def _session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            connector = aiohttp.TCPConnector(limit=self.concurrency, keepalive_timeout=60, ttl_dns_cache=300)
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self.session = aiohttp.ClientSession(base_url=None, connector=connector, headers=headers)
        return self.session

    def send_many(self, messages: list[OutgoingMessage], *, deadline: float) -> list[Outcome]:
        """Sends every message once (no call starts at or after `deadline`), concurrently."""
        return self.run(self._send_many(messages, deadline))

    async def _send_many(self, messages: list[OutgoingMessage], deadline: float) -> list[Outcome]:
        session = await self._session()
        semaphore = asyncio.Semaphore(self.concurrency)
        recorder = metrics.GatewayRecorder()

        async def one(message: OutgoingMessage) -> Outcome:
            async with semaphore:
                return await self._send_one(session, message, deadline, recorder)

        outcomes = await asyncio.gather(*(one(message) for message in messages))
        recorder.flush()
        return outcomes

    async def _send_one(
        self, session: aiohttp.ClientSession, message: OutgoingMessage, deadline: float, recorder
    ) -> Outcome:
        if not self.breaker.allow():
            return Outcome(message.id, DEFERRED, "gateway circuit open", retry_at=self.breaker.open_until)
        await self.limiter.acquire()
        remaining = deadline - time.time()
        if remaining <= 0:
            if self.breaker.probing:
                self.breaker.probing = False
            return Outcome(message.id, DEFERRED, "the mailing's end has come", retry_at=deadline)
        timeout = aiohttp.ClientTimeout(
            total=min(self.timeout, remaining), sock_connect=min(self.connect_timeout, remaining)
        )
        body = {"id": message.id, "phone": int(message.phone_number), "text": message.text}
        started = time.perf_counter()
        try:
            async with session.post(f"{self.url}/v1/send/{message.id}", json=body, timeout=timeout) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            outcome = Outcome(message.id, RETRY, f"timeout after {time.perf_counter() - started:.1f}s")
        except aiohttp.ClientError as exc:
            outcome = Outcome(message.id, RETRY, f"{type(exc).__name__}: {exc}"[:500])
        else:
            outcome = _judge(message.id, status, raw)
        recorder.observe(time.perf_counter() - started, outcome.result)
        self.breaker.record(ok=outcome.result != RETRY)
        if outcome.result != SENT:
            logger.info(
                "mailing %s message %s: gateway %s (%s)",
                message.mailing_id,
                message.id,
                outcome.result,
                outcome.error,
                extra={"mailing_id": message.mailing_id, "message_id": message.id},
            )
        return outcome


def _judge(message_id: int, status: int, raw: bytes) -> Outcome:
    if status == 200:
        import json

        try:
            answer = json.loads(raw)
            code = answer["code"]
        except (ValueError, TypeError, KeyError):
            return Outcome(message_id, RETRY, f"malformed answer: {raw[:100]!r}")
        if code == 0:
            return Outcome(message_id, SENT)
        return Outcome(message_id, RETRY, f"gateway code {code}: {str(answer.get('message', ''))[:200]}")
    if status == 429 or status >= 500:
        return Outcome(message_id, RETRY, f"HTTP {status}: {raw[:200].decode(errors='replace')}")
    return Outcome(message_id, FAILED, f"HTTP {status}: {raw[:200].decode(errors='replace')}")


_gateway: Gateway | None = None
_gateway_pid: int | None = None


def gateway_reset() -> None:
    """Forgets this process's client (closing it), so the next use reads the settings again."""
    global _gateway
    if _gateway is not None and _gateway_pid == os.getpid():
        _gateway.close()
    _gateway = None


def gateway() -> Gateway:
    """This process's client, made on first use (after the prefork worker forked)."""
    global _gateway, _gateway_pid
    if _gateway is None or _gateway_pid != os.getpid():
        _gateway = Gateway(
            url=settings.GATEWAY_URL.rstrip("/"),
            token=settings.GATEWAY_TOKEN,
            timeout=settings.GATEWAY_TIMEOUT,
            connect_timeout=settings.GATEWAY_CONNECT_TIMEOUT,
            concurrency=settings.GATEWAY_CONCURRENCY,
            breaker=CircuitBreaker(
                window=50,
                min_calls=settings.GATEWAY_BREAKER_MIN_CALLS,
                failure_ratio=settings.GATEWAY_BREAKER_FAILURE_RATIO,
                cooldown=settings.GATEWAY_BREAKER_COOLDOWN,
                max_cooldown=settings.GATEWAY_BREAKER_MAX_COOLDOWN,
            ),
            limiter=RateLimiter(limit=settings.GATEWAY_RATE_LIMIT, redis_url=settings.CELERY_BROKER_URL),
        )
        _gateway_pid = os.getpid()
    return _gateway
