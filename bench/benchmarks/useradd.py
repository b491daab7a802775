"""Account provisioning: POST /api/v1/useradd/ against the password hasher alone, in the same run.

Each registration validates its input, checks the login, e-mail and phone, hashes a new
password with argon2id at the configured cost (ARGON2_*), inserts the account and writes
a request-log row. The baseline is the bare app (bench/bare/: its own minimal settings,
no middleware, no DRF) served by the same gunicorn configuration and worker count, whose
view parses the body and hashes a fresh password with the same hasher: the ratio says how
much of a registration's cost is anything but Argon2 (1.0 would be "the hasher is all of
it"). Where the rest goes: bench/results/profile_useradd.md (`make bench BENCH=profile`).

Target (issue 16): ratio ≥ 0.70.
"""

import json
import secrets
import statistics
import time

from django.conf import settings
from django.contrib.auth.hashers import get_hasher

ROUNDS = 3
WARMUP = 100
CONCURRENCY = 8


# Russian mobile codes 900-999 (libphonenumber knows every number of each as valid, but 930's).
MOBILE_CODES = [code for code in range(900, 1000) if code != 930]


def phone(prefix: str, i: int) -> str:
    """A valid phone number, one per prefix and index (core.phones refuses invalid ones)."""
    return f"7{MOBILE_CODES[hash(prefix) % len(MOBILE_CODES)]}{i:07d}"


def registration_bodies(prefix: str, count: int) -> list[dict]:
    return [
        {
            "name": f"Bench User {i}",
            "username": f"{prefix}{i}",
            "phone": phone(prefix, i),
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
    requests_per_round = ctx.sized(small=100, full=500)
    # The throttle (10/min per address by default) would refuse the load: lift it for this run.
    ctx.restart_web(THROTTLE_USERADD_RATE="100000/s")
    bare_url = ctx.start_bare_web()
    api_rounds, hasher_rounds = [], []
    try:
        ctx.load(
            path="/api/v1/useradd/",
            bodies=registration_bodies("warm", WARMUP),
            concurrency=CONCURRENCY,
            requests=WARMUP,
        )
        ctx.load(path="/password-hash/", base_url=bare_url, bodies=[{}], concurrency=CONCURRENCY, requests=WARMUP)
        # Alternate the two, so a neighbour's load on the machine weighs on both alike.
        for round_number in range(ROUNDS):
            api_rounds.append(
                ctx.load(
                    path="/api/v1/useradd/",
                    bodies=registration_bodies(f"bench{round_number}x", requests_per_round),
                    concurrency=CONCURRENCY,
                    requests=requests_per_round,
                )
            )
            hasher_rounds.append(
                ctx.load(
                    path="/password-hash/",
                    base_url=bare_url,
                    bodies=[{}],
                    concurrency=CONCURRENCY,
                    requests=requests_per_round,
                )
            )
    finally:
        ctx.stop_bare_web()
        ctx.restart_web()
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
                f"{ctx.stack.env.get('WEB_CONCURRENCY')} / {CONCURRENCY} / {ROUNDS} x {requests_per_round}"
            ),
            "useradd: registrations/s (median of rounds)": api_rps,
            "useradd: p95 ms (median of rounds)": api_p95,
            "useradd: statuses": json.dumps(statuses),
            "hasher alone (bare app, same gunicorn): hashes/s": hasher_rps,
            "hasher alone: p95 ms": hasher_p95,
            "ratio useradd / hasher alone (requests/s; target ≥ 0.70)": round(api_rps / hasher_rps, 3),
            "ratio useradd / hasher alone, per round": json.dumps(round_ratios),
            "ratio useradd / hasher alone (p95)": round(api_p95 / hasher_p95, 3),
            "hasher in process, one core: hashes/s": round(single_core, 1),
        },
    }
