"""Account provisioning: POST /api/v1/useradd/ against the password hasher alone, in the same run.

Each registration validates its input, checks the login, e-mail and phone, hashes a new
password with argon2id at the configured cost (ARGON2_*), inserts the account and writes
a request-log row. The baseline is a bare Django view on the same gunicorn that only
hashes a password with the same hasher: the ratio says how much of a registration's
cost is anything but Argon2 (1.0 would be "the hasher is all of it").
"""

import json
import secrets
import time

from django.conf import settings
from django.contrib.auth.hashers import get_hasher, make_password
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

REQUESTS = 1500
WARMUP = 100
CONCURRENCY = 8


@csrf_exempt
def bare_password_hash(request: HttpRequest) -> JsonResponse:
    """The baseline: parse the same body and hash a fresh password; no checks, no rows."""
    json.loads(request.body)
    encoded = make_password(secrets.token_urlsafe(15))
    return JsonResponse({"hash_length": len(encoded)}, status=201)


baseline_urlpatterns = [path("bench/baseline/password-hash/", bare_password_hash)]


def registration_bodies(prefix: str, count: int) -> list[dict]:
    return [
        {
            "name": f"Bench User {i}",
            "username": f"{prefix}{i}",
            "phone": f"7{(hash(prefix) % 900 + 100):03d}{i:07d}",
            "email": f"{prefix}{i}@bench.example",
        }
        for i in range(count)
    ]


def in_process_hashes_per_second(count: int = 40) -> float:
    """One core, no HTTP: the hasher's own speed at the configured cost, for reference."""
    hasher = get_hasher("default")
    started = time.perf_counter()
    for _ in range(count):
        hasher.encode(secrets.token_urlsafe(15), hasher.salt())
    return count / (time.perf_counter() - started)


def run(ctx) -> dict:
    # The throttle (10/min per address by default) would refuse the load: lift it for this run.
    ctx.stack.extra_env["THROTTLE_USERADD_RATE"] = "100000/s"
    ctx.stack.stop("web")
    ctx.stack.start_web()
    try:
        ctx.load(
            path="/api/v1/useradd/",
            bodies=registration_bodies("warm", WARMUP),
            concurrency=CONCURRENCY,
            requests=WARMUP,
        )
        ctx.load(path="/bench/baseline/password-hash/", bodies=[{}], concurrency=CONCURRENCY, requests=WARMUP)
        api = ctx.load(
            path="/api/v1/useradd/",
            bodies=registration_bodies("bench", REQUESTS),
            concurrency=CONCURRENCY,
            requests=REQUESTS,
        )
        hasher = ctx.load(
            path="/bench/baseline/password-hash/",
            bodies=registration_bodies("unused", 1),
            concurrency=CONCURRENCY,
            requests=REQUESTS,
        )
    finally:
        del ctx.stack.extra_env["THROTTLE_USERADD_RATE"]
        ctx.stack.stop("web")
        ctx.stack.start_web()
    single_core = in_process_hashes_per_second()
    parameters = (
        f"argon2id m={settings.ARGON2_MEMORY_COST} KiB, t={settings.ARGON2_TIME_COST}, p={settings.ARGON2_PARALLELISM}"
    )
    return {
        "parameters": parameters,
        "useradd": api,
        "hasher_alone": hasher,
        "in_process_hashes_per_second": single_core,
        "summary": {
            "argon2 parameters": parameters,
            "gunicorn workers / load concurrency": f"{ctx.stack.env.get('WEB_CONCURRENCY')} / {CONCURRENCY}",
            "useradd: registrations/s": api["requests_per_second"],
            "useradd: p50 / p95 / p99 ms": f"{api['p50_ms']} / {api['p95_ms']} / {api['p99_ms']}",
            "useradd: statuses": json.dumps(api["statuses"]),
            "hasher alone (bare view, same gunicorn): hashes/s": hasher["requests_per_second"],
            "hasher alone: p50 / p95 / p99 ms": f"{hasher['p50_ms']} / {hasher['p95_ms']} / {hasher['p99_ms']}",
            "ratio useradd / hasher alone (requests/s)": round(
                api["requests_per_second"] / hasher["requests_per_second"], 3
            ),
            "ratio useradd / hasher alone (p95)": round(api["p95_ms"] / hasher["p95_ms"], 3),
            "hasher in process, one core: hashes/s": round(single_core, 1),
        },
    }
