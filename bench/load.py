"""The load generator, run as a separate process so it never shares a core's GIL with us.

    python bench/load.py SPEC.json  ->  prints one JSON object with the figures

SPEC: {"url", "method", "headers", "bodies": [...] (cycled; JSON values), "concurrency",
"requests"}. Reports requests/s, latency percentiles (ms) and counts by status.
"""

import asyncio
import json
import sys
import time

import aiohttp


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


async def drive(spec: dict) -> dict:
    bodies = [json.dumps(body).encode() if body is not None else None for body in spec.get("bodies", [None])]
    total = spec["requests"]
    headers = {"Content-Type": "application/json", **spec.get("headers", {})}
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    next_index = 0

    connector = aiohttp.TCPConnector(limit=spec["concurrency"])
    timeout = aiohttp.ClientTimeout(total=spec.get("timeout", 60))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one_client() -> None:
            nonlocal next_index
            while next_index < total:
                index = next_index
                next_index += 1
                body = bodies[index % len(bodies)]
                request_headers = dict(headers)
                if spec.get("idempotency_keys"):
                    request_headers["Idempotency-Key"] = f"{spec['idempotency_keys']}-{index}"
                started = time.perf_counter()
                try:
                    async with session.request(spec["method"], spec["url"], data=body, headers=request_headers) as r:
                        await r.read()
                        status = str(r.status)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    status = type(exc).__name__
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(spec["concurrency"])))
        elapsed = time.perf_counter() - started

    latencies.sort()
    return {
        "requests": total,
        "concurrency": spec["concurrency"],
        "seconds": round(elapsed, 3),
        "requests_per_second": round(total / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "statuses": statuses,
    }


if __name__ == "__main__":
    with open(sys.argv[1]) as spec_file:
        print(json.dumps(asyncio.run(drive(json.load(spec_file)))))
