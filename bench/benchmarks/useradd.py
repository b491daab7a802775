"""Account provisioning: POST /api/v1/useradd/ against the password hasher alone, in the same run.

Each registration validates its input, checks the login, e-mail and phone, hashes a new
password with argon2id at the configured cost (ARGON2_*), inserts the account and writes
a request-log row. The baseline is a bare Django view on the same gunicorn that only
hashes a password with the same hasher: the ratio says how much of a registration's
cost is anything but Argon2 (1.0 would be "the hasher is all of it").
"""

import json
import secrets
import statistics
import time

from django.conf import settings
from django.contrib.auth.hashers import get_hasher, make_password
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

ROUNDS = 3
REQUESTS_PER_ROUND = 500
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


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def run(ctx) -> dict:
    # The throttle (10/min per address by default) would refuse the load: lift it for this run.
    ctx.stack.extra_env["THROTTLE_USERADD_RATE"] = "100000/s"
    ctx.stack.stop("web")
    ctx.stack.start_web()
    api_rounds, hasher_rounds = [], []
    try:
        ctx.load(
            path="/api/v1/useradd/",
            bodies=registration_bodies("warm", WARMUP),
            concurrency=CONCURRENCY,
            requests=WARMUP,
        )
        ctx.load(path="/bench/baseline/password-hash/", bodies=[{}], concurrency=CONCURRENCY, requests=WARMUP)
        # Alternate the two, so a neighbour's load on the machine weighs on both alike.
        for round_number in range(ROUNDS):
            api_rounds.append(
                ctx.load(
                    path="/api/v1/useradd/",
                    bodies=registration_bodies(f"bench{round_number}x", REQUESTS_PER_ROUND),
                    concurrency=CONCURRENCY,
                    requests=REQUESTS_PER_ROUND,
                )
            )
            hasher_rounds.append(
                ctx.load(
                    path="/bench/baseline/password-hash/",
                    bodies=[{}],
                    concurrency=CONCURRENCY,
                    requests=REQUESTS_PER_ROUND,
                )
            )
    finally:
        del ctx.stack.extra_env["THROTTLE_USERADD_RATE"]
        ctx.stack.stop("web")
        ctx.stack.start_web()
    single_core = in_process_hashes_per_second()
    parameters = (
        f"argon2id m={settings.ARGON2_MEMORY_COST} KiB, t={settings.ARGON2_TIME_COST}, p={settings.ARGON2_PARALLELISM}"
    )
    api_rps = _median([r["requests_per_second"] for r in api_rounds])
    hasher_rps = _median([r["requests_per_second"] for r in hasher_rounds])
    api_p95 = _median([r["p95_ms"] for r in api_rounds])
    hasher_p95 = _median([r["p95_ms"] for r in hasher_rounds])
    round_ratios = [
        round(a["requests_per_second"] / h["requests_per_second"], 3)
        for a, h in zip(api_rounds, hasher_rounds, strict=True)
    ]
    statuses: dict[str, int] = {}
    for r in api_rounds:
        for status, count in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "parameters": parameters,
        "useradd_rounds": api_rounds,
        "hasher_alone_rounds": hasher_rounds,
        "in_process_hashes_per_second": single_core,
        "summary": {
            "argon2 parameters": parameters,
            "gunicorn workers / load concurrency / rounds x requests": (
                f"{ctx.stack.env.get('WEB_CONCURRENCY')} / {CONCURRENCY} / {ROUNDS} x {REQUESTS_PER_ROUND}"
            ),
            "useradd: registrations/s (median of rounds)": api_rps,
            "useradd: p95 ms (median of rounds)": api_p95,
            "useradd: statuses": json.dumps(statuses),
            "hasher alone (bare view, same gunicorn): hashes/s": hasher_rps,
            "hasher alone: p95 ms": hasher_p95,
            "ratio useradd / hasher alone (requests/s)": round(api_rps / hasher_rps, 3),
            "ratio useradd / hasher alone, per round": json.dumps(round_ratios),
            "ratio useradd / hasher alone (p95)": round(api_p95 / hasher_p95, 3),
            "hasher in process, one core: hashes/s": round(single_core, 1),
        },
    }
