"""Robot ingest: single-robot requests/s against a bare Django view, batch robots/s against COPY.

Targets (issue 3): single ≥ 60% of the bare view's requests/s; batch ≥ 20% of COPY's rate.
"""

import json
import time
from datetime import datetime, timedelta

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from robots.models import Robot

SINGLE_REQUESTS = 4000
SINGLE_CONCURRENCY = 16
BATCH_ROBOTS = 100_000
BATCH_SIZE = 1000
BATCH_CONCURRENCY = 4


@csrf_exempt
def bare_robot_create(request: HttpRequest) -> JsonResponse:
    """The baseline: parse the same body, insert the same row, no DRF, no checks."""
    data = json.loads(request.body)
    created = timezone.make_aware(parse_datetime(data["created"]))
    robot = Robot.objects.create(
        robot_version_id=int(request.headers["X-Version-Id"]),
        serial=f"{data['model']}-{data['version']}",
        model=data["model"],
        version=data["version"],
        created=created,
    )
    return JsonResponse({"id": robot.pk}, status=201)


baseline_urlpatterns = [path("bench/baseline/robots/", bare_robot_create)]


def robot_bodies(count: int) -> list[dict]:
    start = datetime(2023, 10, 1, 8, 0, 0)
    return [
        {"model": "R2", "version": "D2", "created": (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")}
        for i in range(count)
    ]


def copy_rate(ctx, version_id: int, rows: int) -> float:
    """Robots/s for PostgreSQL COPY of the same rows into the same table."""
    import psycopg

    start = timezone.make_aware(datetime(2023, 9, 1, 8, 0, 0))
    now = timezone.now()
    with psycopg.connect(ctx.stack.database_url) as conn, conn.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(
            "COPY robots_robot (robot_version_id, serial, model, version, created, created_at) FROM STDIN"
        ) as copy:
            for i in range(rows):
                copy.write_row((version_id, "R2-D2", "R2", "D2", start + timedelta(seconds=i), now))
        conn.commit()
        return rows / (time.perf_counter() - started)


def run(ctx) -> dict:
    ctx.psql("INSERT INTO robots_robotmodel (code, name, created_at) VALUES ('R2', 'Astromech', now())")
    ctx.psql(
        "INSERT INTO robots_robotversion (model_id, code, created_at) "
        "SELECT id, 'D2', now() FROM robots_robotmodel WHERE code = 'R2'"
    )
    import psycopg

    with psycopg.connect(ctx.stack.database_url) as conn:
        version_id = conn.execute("SELECT id FROM robots_robotversion").fetchone()[0]
    auth = {"Authorization": f"Token {ctx.token('production_line')}"}
    bodies = robot_bodies(SINGLE_REQUESTS)

    # Warm both paths (connections, imports), then measure each under the same load.
    ctx.load(path="/api/v1/robots/", bodies=bodies[:200], concurrency=SINGLE_CONCURRENCY, requests=200, headers=auth)
    ctx.load(
        path="/bench/baseline/robots/",
        bodies=bodies[:200],
        concurrency=SINGLE_CONCURRENCY,
        requests=200,
        headers={"X-Version-Id": str(version_id)},
    )
    api = ctx.load(
        path="/api/v1/robots/", bodies=bodies, concurrency=SINGLE_CONCURRENCY, requests=SINGLE_REQUESTS, headers=auth
    )
    bare = ctx.load(
        path="/bench/baseline/robots/",
        bodies=bodies,
        concurrency=SINGLE_CONCURRENCY,
        requests=SINGLE_REQUESTS,
        headers={"X-Version-Id": str(version_id)},
    )

    batches = [robot_bodies(BATCH_SIZE) for _ in range(1)]
    batch = ctx.load(
        path="/api/v1/robots/batch/",
        bodies=batches,
        concurrency=BATCH_CONCURRENCY,
        requests=BATCH_ROBOTS // BATCH_SIZE,
        headers=auth,
    )
    batch_rate = BATCH_ROBOTS / batch["seconds"]
    copy = copy_rate(ctx, version_id, BATCH_ROBOTS)

    return {
        "single": {"api": api, "bare_view": bare},
        "batch": {"api": batch, "robots_per_second": batch_rate, "copy_robots_per_second": copy},
        "summary": {
            "single robot: API requests/s": api["requests_per_second"],
            "single robot: API p50/p99 ms": f"{api['p50_ms']} / {api['p99_ms']}",
            "single robot: bare Django view requests/s": bare["requests_per_second"],
            "single robot: bare view p50/p99 ms": f"{bare['p50_ms']} / {bare['p99_ms']}",
            "single robot: ratio API / bare view (target ≥ 0.60)": round(
                api["requests_per_second"] / bare["requests_per_second"], 3
            ),
            "single robot: API statuses": api["statuses"],
            "batch: API robots/s (100 x 1000)": round(batch_rate),
            "batch: COPY robots/s": round(copy),
            "batch: ratio API / COPY (target ≥ 0.20)": round(batch_rate / copy, 3),
            "batch: API statuses": batch["statuses"],
        },
    }
