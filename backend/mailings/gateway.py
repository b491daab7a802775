"""The SMS gateway client: one pooled aiohttp session and event loop per worker process.

`gateway()` gives this process's client. `Gateway.send_many()` posts a chunk of messages
concurrently (at most GATEWAY_CONCURRENCY in flight), under a rate limit shared by every
worker through Redis (GATEWAY_RATE_LIMIT), a shared hold (a gateway's Retry-After stops
every worker's calls until then) and a circuit breaker, and returns one `Outcome` per
message; it never raises for a gateway fault. Recording outcomes is the dispatcher's job
(mailings.dispatcher).

The contract (DESIGN.md §4) is read strictly: only HTTP 200 with a JSON object whose `code`
is the integer 0 means sent. Redirects are never followed (aiohttp would turn the POST into
a GET and the gateway would never see the text); the answer is read up to
GATEWAY_MAX_ANSWER_BYTES within GATEWAY_TIMEOUT, so a huge or slow answer costs neither
memory nor more than the timeout. Every answer that is not the contract's gets a `kind`,
the label of r4c_gateway_requests{outcome=...}, and an error that says what came back.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import redis.asyncio as aioredis
from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from core.jobs import backoff_ceiling
from mailings import metrics

logger = logging.getLogger(__name__)

SENT = "sent"  # the gateway said OK
RETRY = "retry"  # timeout, 3xx, 5xx, 429, malformed answer, non-zero code: try again after a back-off
FAILED = "failed"  # 4xx other than 429: the gateway will never accept it
DEFERRED = "deferred"  # not tried (circuit open, gateway held, end reached): try later, no attempt counted

# What the gateway answered: the `outcome` label of r4c_gateway_requests.
KIND_SENT = "sent"
KIND_REDIRECT = "redirect"  # 3xx: not followed
KIND_RATE_LIMITED = "rate_limited"  # 429
KIND_UNAVAILABLE = "unavailable"  # 503
KIND_SERVER_ERROR = "server_error"  # other 5xx
KIND_REJECTED = "rejected"  # 4xx other than 429: final
KIND_UNEXPECTED_STATUS = "unexpected_status"  # 1xx, or a 2xx other than 200
KIND_NOT_JSON = "not_json"  # 200 whose body is not JSON
KIND_NOT_OBJECT = "not_object"  # 200 whose JSON is not an object
KIND_BAD_CODE = "bad_code"  # 200 whose `code` is missing or not an integer (false, "0", 0.0, null)
KIND_CODE_NONZERO = "code_nonzero"  # 200 with an integer code other than 0
KIND_TOO_LARGE = "too_large"  # an answer longer than GATEWAY_MAX_ANSWER_BYTES
KIND_TIMEOUT = "timeout"  # no answer within the timeout
KIND_SLOW_ANSWER = "slow_answer"  # the answer began but did not end within the timeout
KIND_CONNECTION_ERROR = "connection_error"  # refused, reset, closed without an answer
# The mailing's end came while the call waited (its budget was cut to the time left): no
# sign of the gateway's health, and the message keeps what the gateway last answered.
KIND_MAILING_END = "mailing_end"
# How early the event loop's timer may end a wait cut to the mailing's end (clock granularity).
DEADLINE_SLACK = 0.05

MISSING = object()


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
    # RETRY: not before this (a Retry-After); DEFERRED: try again then. time.time() seconds.
    retry_at: float | None = None
    kind: str = ""


class CircuitBreaker:
    """Opens when `min_calls` calls in a row failed, or most of the recent calls did; then
    lets one probe through per cool-down.

    A dead gateway costs one call per cool-down (growing up to a maximum) instead of a
    flood; a flaky one (half the calls fail) stays closed, retries deliver.
    """

    def __init__(
        self,
        *,
        window: int,
        min_calls: int,
        failure_ratio: float,
        cooldown: float,
        max_cooldown: float,
        clock: Callable[[], float] = time.time,
    ):
        self.clock = clock  # seconds, time.time()'s: open_until is compared with other processes' moments
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
        return max(0.0, self.open_until - self.clock()) if self.is_open else 0.0

    def allow(self) -> bool:
        if not self.is_open:
            return True
        if self.probing or self.clock() < self.open_until:
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
        # The cool-off doubles with each trip, up to the maximum: core.jobs' back-off ceiling.
        cooldown = backoff_ceiling(self.trips, base=self.base_cooldown, cap=self.max_cooldown)
        self.open_until = self.clock() + cooldown
        self.window.clear()
        self.consecutive_failures = 0
        logger.warning("gateway circuit open for %.1fs (trip %d)", cooldown, self.trips)


class RateLimiter:
    """At most `limit` gateway calls in any one second, over every worker process and host.

    The `limits` library's moving window, kept in Redis: each call takes one entry of a
    window that slides with time, so no edge of a fixed window can let twice the rate
    through. Calls of one process take their entries one at a time (an asyncio lock), so
    waiting callers do not stampede Redis. Entries are stamped with the callers' clocks:
    hosts sharing a limit keep their clocks in sync (NTP), as they do for TLS and logs.
    """

    KEY_PREFIX = "r4c:gateway:rate"
    IDENTIFIER = "gateway"

    def __init__(self, *, limit: int, redis_url: str):
        self.limit = limit
        self.redis_url = redis_url
        self.item = RateLimitItemPerSecond(max(1, limit))
        self.strategy: MovingWindowRateLimiter | None = None
        self.lock: asyncio.Lock | None = None

    async def acquire(self, *, deadline: float) -> bool:
        """Waits for a free entry; False when none is free before `deadline` (time.time())."""
        if self.limit <= 0:
            return True
        if self.strategy is None:
            storage = RedisStorage(
                f"async+{self.redis_url}",
                implementation="redispy",
                key_prefix=self.KEY_PREFIX,
                socket_timeout=2,
                socket_connect_timeout=2,
            )
            self.strategy = MovingWindowRateLimiter(storage)
            self.lock = asyncio.Lock()
        async with self.lock:
            while True:
                try:
                    if await self.strategy.hit(self.item, self.IDENTIFIER):
                        return True
                    stats = await self.strategy.get_window_stats(self.item, self.IDENTIFIER)
                    wait = stats.reset_time - time.time()
                except Exception:  # Redis unavailable: hold back rather than exceed the limit
                    logger.warning("rate limiter: Redis unavailable", exc_info=True)
                    wait = 0.5
                wait = min(1.0, max(0.001, wait))
                if time.time() + wait >= deadline:
                    return False
                await asyncio.sleep(wait)


class SharedHold:
    """ "Make no call before T", shared by every worker: a gateway's Retry-After on a 429 or a
    503 holds the whole gateway, not only the message it answered.

    The moment is kept in Redis (it only ever moves forward) and read at most every
    REFRESH seconds per process; within a process it applies at once. Without Redis the
    process still honours what it saw itself.
    """

    KEY = "r4c:gateway:hold-until"
    REFRESH = 0.25  # seconds
    # Sets the key to ARGV[1] (seconds) unless it holds a later moment; it expires then.
    _EXTEND = """
    local current = tonumber(redis.call('GET', KEYS[1]) or '0')
    if tonumber(ARGV[1]) > current then
        redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
    end
    return 1
    """

    def __init__(self, *, redis_url: str):
        self.redis_url = redis_url
        self.until = 0.0
        self.checked = 0.0
        self.client: aioredis.Redis | None = None

    def _redis(self) -> aioredis.Redis:
        if self.client is None:
            self.client = aioredis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return self.client

    async def current(self) -> float:
        """The moment (time.time()) before which no call may start, or 0.0 when none is held."""
        now = time.time()
        if now - self.checked >= self.REFRESH:
            self.checked = now
            try:
                value = await self._redis().get(self.KEY)
            except Exception:
                logger.debug("gateway hold: Redis unavailable", exc_info=True)
            else:
                self.until = max(self.until, float(value or 0))
        return self.until if self.until > now else 0.0

    async def extend(self, until: float) -> None:
        """Holds every worker's calls until `until` (time.time()), unless held longer already."""
        self.until = max(self.until, until)
        try:
            await self._redis().eval(self._EXTEND, 1, self.KEY, repr(until), int(until * 1000) + 1)
        except Exception:
            logger.warning("gateway hold: could not share it through Redis", exc_info=True)


@dataclass
class Gateway:
    url: str
    token: str
    timeout: float
    connect_timeout: float
    concurrency: int
    max_answer_bytes: int
    retry_after_max: float
    breaker: CircuitBreaker
    limiter: RateLimiter
    hold: SharedHold
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    session: aiohttp.ClientSession | None = None

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        if self.session is not None and not self.session.closed:
            self.run(self.session.close())
        self.loop.close()

    def held_until(self) -> float:
        """The moment (time.time()) before which the gateway asked for no call, or 0.0."""
        return self.run(self.hold.current())

    async def _session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            connector = aiohttp.TCPConnector(limit=self.concurrency, keepalive_timeout=60, ttl_dns_cache=300)
            # An uncompressed answer: its size on the wire is its size in memory.
            headers = {"Accept-Encoding": "identity"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            # No cookie jar: nothing the gateway sets may ride along on later calls (and matching
            # cookies to every URL is work per call for nothing).
            self.session = aiohttp.ClientSession(
                connector=connector, headers=headers, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self.session

    def send_many(self, messages: list[OutgoingMessage], *, deadline: float) -> list[Outcome]:
        """Sends every message once (no call starts at or after `deadline`), concurrently."""
        return self.run(self._send_many(messages, deadline))

    async def _send_many(self, messages: list[OutgoingMessage], deadline: float) -> list[Outcome]:
        session = await self._session()
        recorder = metrics.GatewayRecorder()
        outcomes: list[Outcome | None] = [None] * len(messages)
        # GATEWAY_CONCURRENCY senders share one iterator, each taking the next message as soon
        # as its call is answered: the calls in flight stay at the limit with no task, future
        # and semaphore wake-up per message (a task per message behind a semaphore cost ~90 us
        # of CPU per message more, ~1.35x the bare loop's client CPU against ~1.15x now).
        queue = iter(enumerate(messages))

        async def sender() -> None:
            for index, message in queue:  # next() on a shared iterator: each message taken once
                outcomes[index] = await self._send_one(session, message, deadline, recorder)

        await asyncio.gather(*(sender() for _ in range(min(self.concurrency, len(messages)))))
        recorder.flush()
        return outcomes

    async def _held(self, message: OutgoingMessage) -> Outcome | None:
        held = await self.hold.current()
        if not held:
            return None
        return Outcome(
            message.id, DEFERRED, f"the gateway asked for no call before {_moment(held)} (Retry-After)", retry_at=held
        )

    async def _send_one(
        self, session: aiohttp.ClientSession, message: OutgoingMessage, deadline: float, recorder
    ) -> Outcome:
        held = await self._held(message)
        if held is not None:
            return held
        if not self.breaker.allow():
            return Outcome(message.id, DEFERRED, "gateway circuit open", retry_at=self.breaker.open_until)
        acquired = await self.limiter.acquire(deadline=deadline)
        # The limiter may have made us wait: the gateway may have asked for a pause meanwhile.
        # (Without a limit it returned at once, with no other call run in between.)
        held = await self._held(message) if acquired and self.limiter.limit > 0 else None
        remaining = deadline - time.time()
        if held is not None or not acquired or remaining <= 0:
            self.breaker.probing = False  # this call was not made: it was no probe
            return held or Outcome(message.id, DEFERRED, "the mailing's end has come", retry_at=deadline)
        started = time.perf_counter()
        outcome = await self._call(session, message, min(self.timeout, remaining))
        # Only a wait that lasted until the end: a connect timeout (GATEWAY_CONNECT_TIMEOUT)
        # inside a shortened budget is the gateway's, as it would be earlier in the mailing.
        if (
            remaining < self.timeout
            and outcome.kind in (KIND_TIMEOUT, KIND_SLOW_ANSWER)
            and time.time() >= deadline - DEADLINE_SLACK
        ):
            outcome = Outcome(
                message.id, RETRY, f"the mailing's end came during the call ({outcome.error})", kind=KIND_MAILING_END
            )
        recorder.observe(time.perf_counter() - started, outcome.kind)
        if outcome.kind == KIND_MAILING_END:
            self.breaker.probing = False  # cut short by us: it says nothing of the gateway
        elif outcome.retry_at is not None:
            # A Retry-After: every worker waits, and it is no sign of a dead gateway.
            await self.hold.extend(outcome.retry_at)
            self.breaker.probing = False
        else:
            self.breaker.record(ok=outcome.result != RETRY)
        if outcome.result != SENT:
            logger.info(
                "mailing %s message %s: gateway %s, %s (%s)",
                message.mailing_id,
                message.id,
                outcome.result,
                outcome.kind,
                outcome.error,
                extra={"mailing_id": message.mailing_id, "message_id": message.id},
            )
        return outcome

    async def _call(self, session: aiohttp.ClientSession, message: OutgoingMessage, timeout: float) -> Outcome:
        """One POST, judged by the contract; the whole exchange, body included, within `timeout`."""
        body = {"id": message.id, "phone": int(message.phone_number), "text": message.text}
        started = time.perf_counter()
        status: int | None = None
        try:
            async with asyncio.timeout(timeout):
                async with session.post(
                    f"{self.url}/v1/send/{message.id}",
                    json=body,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=min(self.connect_timeout, timeout)),
                ) as response:
                    status = response.status
                    if 300 <= status < 400:
                        return _judge(
                            message.id,
                            status,
                            response.headers,
                            b"",
                            retry_after_max=self.retry_after_max,
                            now=time.time(),
                        )
                    declared = response.content_length
                    raw = None  # a declared length over the cap is refused unread
                    if declared is not None and declared <= self.max_answer_bytes:
                        raw = await response.read()  # aiohttp reads no more than the declared length
                    elif declared is None:
                        raw = await _read_capped(response.content, self.max_answer_bytes)
                    if raw is None:
                        response.close()  # leave the rest unread: the connection is not reused
                        size = f"{declared} bytes" if declared is not None else "more"
                        return Outcome(
                            message.id,
                            RETRY,
                            f"HTTP {status}: the answer is {size}, over the {self.max_answer_bytes}-byte cap "
                            "(GATEWAY_MAX_ANSWER_BYTES); not read",
                            kind=KIND_TOO_LARGE,
                        )
                    headers = response.headers
        except TimeoutError:
            elapsed = time.perf_counter() - started
            if status is None:
                return Outcome(message.id, RETRY, f"timeout after {elapsed:.1f}s: no answer", kind=KIND_TIMEOUT)
            return Outcome(
                message.id,
                RETRY,
                f"timeout after {elapsed:.1f}s: HTTP {status} began but its body did not end",
                kind=KIND_SLOW_ANSWER,
            )
        except aiohttp.ClientError as exc:
            return Outcome(message.id, RETRY, _excerpt(f"{type(exc).__name__}: {exc}", 500), kind=KIND_CONNECTION_ERROR)
        return _judge(message.id, status, headers, raw, retry_after_max=self.retry_after_max, now=time.time())


async def _read_capped(stream: aiohttp.StreamReader, cap: int) -> bytes | None:
    """The whole body if it is at most `cap` bytes; None as soon as it is longer (the rest is
    never read, so memory holds at most the cap and aiohttp's read buffer)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.read(cap + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return None


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110
    §10.2.3); a date in the past is 0. None when absent or unreadable."""
    if not value or len(value) > 64:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are in GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _judge(message_id: int, status: int, headers, raw: bytes, *, retry_after_max: float, now: float) -> Outcome:
    """The outcome of an answer received at `now` (time.time()), by the contract (DESIGN.md §4)."""
    if status == 200:
        try:
            answer = json.loads(raw)
        except ValueError:  # UnicodeDecodeError included
            return Outcome(message_id, RETRY, f"HTTP 200 but not JSON: {_excerpt(raw)}", kind=KIND_NOT_JSON)
        if not isinstance(answer, dict):
            return Outcome(
                message_id,
                RETRY,
                f"HTTP 200 but the JSON is {_json_type(answer)}, not an object: {_excerpt(raw)}",
                kind=KIND_NOT_OBJECT,
            )
        code = answer.get("code", MISSING)
        # `type(...) is int`: False == 0 in Python, and {"code": false} is no success.
        if type(code) is not int:
            if code is MISSING or code is None:
                shown = "missing" if code is MISSING else "null"
            else:
                shown = f"{_json_type(code)} {_excerpt(json.dumps(code), 60)}"
            return Outcome(message_id, RETRY, f"HTTP 200 but `code` is {shown}, not the integer 0", kind=KIND_BAD_CODE)
        if code == 0:
            return Outcome(message_id, SENT, kind=KIND_SENT)
        text = _excerpt(str(answer.get("message", "")))
        return Outcome(message_id, RETRY, f"gateway code {code}: {text}", kind=KIND_CODE_NONZERO)
    if 300 <= status < 400:
        location = _excerpt(headers.get("Location", "(no Location)"))
        return Outcome(
            message_id,
            RETRY,
            f"HTTP {status} redirect to {location}, not followed: the gateway must answer at GATEWAY_URL",
            kind=KIND_REDIRECT,
        )
    if status in (429, 503):
        kind = KIND_RATE_LIMITED if status == 429 else KIND_UNAVAILABLE
        header = headers.get("Retry-After")
        delay = retry_after_seconds(header, now=now)
        if delay is None:
            reason = "no Retry-After" if header is None else f"unreadable Retry-After {_excerpt(header, 64)}"
            return Outcome(message_id, RETRY, f"HTTP {status} ({reason}): {_excerpt(raw)}", kind=kind)
        waited = min(delay, retry_after_max)
        retry_at = now + waited
        capped = f", capped from {delay:.0f}s (GATEWAY_RETRY_AFTER_MAX)" if delay > retry_after_max else ""
        return Outcome(
            message_id,
            RETRY,
            f"HTTP {status} with Retry-After {_excerpt(header, 64)}: no call before {_moment(retry_at)}{capped}",
            retry_at=retry_at,
            kind=kind,
        )
    if status >= 500:
        return Outcome(message_id, RETRY, f"HTTP {status}: {_excerpt(raw)}", kind=KIND_SERVER_ERROR)
    if 400 <= status < 500:
        return Outcome(message_id, FAILED, f"HTTP {status}: {_excerpt(raw)}", kind=KIND_REJECTED)
    return Outcome(
        message_id, RETRY, f"HTTP {status}, not the contract's 200: {_excerpt(raw)}", kind=KIND_UNEXPECTED_STATUS
    )


def _excerpt(text: bytes | str, limit: int = 200) -> str:
    """At most `limit` characters of what the gateway sent, control characters escaped (a NUL
    cannot be stored in PostgreSQL, and the rest would garble logs)."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode(errors="replace")
    shown = "".join(
        c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text[:limit]
    )
    return shown + ("…" if len(text) > limit else "")


def _json_type(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _moment(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


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
            max_answer_bytes=settings.GATEWAY_MAX_ANSWER_BYTES,
            retry_after_max=settings.GATEWAY_RETRY_AFTER_MAX,
            breaker=CircuitBreaker(
                window=50,
                min_calls=settings.GATEWAY_BREAKER_MIN_CALLS,
                failure_ratio=settings.GATEWAY_BREAKER_FAILURE_RATIO,
                cooldown=settings.GATEWAY_BREAKER_COOLDOWN,
                max_cooldown=settings.GATEWAY_BREAKER_MAX_COOLDOWN,
            ),
            limiter=RateLimiter(limit=settings.GATEWAY_RATE_LIMIT, redis_url=settings.CELERY_BROKER_URL),
            hold=SharedHold(redis_url=settings.CELERY_BROKER_URL),
        )
        _gateway_pid = os.getpid()
    return _gateway
