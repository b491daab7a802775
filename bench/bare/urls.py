"""The bare views: the least Django work that does what the measured endpoint does.

- POST /robots/: parses the production line's JSON body and its `created`, and inserts the
  same row into the same table (robots_robot) as POST /api/v1/robots/, in autocommit;
  the version id comes in the `X-Version-Id` header, so there is no catalog lookup.
- POST /password-hash/: parses the JSON body and hashes a fresh password with the
  project's argon2id hasher at the configured cost (the useradd baseline).
"""

import json
import secrets
from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone

INSERT_ROBOT = (
    "INSERT INTO robots_robot (robot_version_id, serial, model, version, created, created_at) "
    "VALUES (%s, %s, %s, %s, %s, now()) RETURNING id"
)


def robot_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    data = json.loads(request.body)
    created = datetime.fromisoformat(data["created"])
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.get_default_timezone())
    serial = f"{data['model']}-{data['version']}"
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT_ROBOT, [int(request.headers["X-Version-Id"]), serial, data["model"], data["version"], created]
        )
        (robot_id,) = cursor.fetchone()
    body = {"id": robot_id, "serial": serial, "model": data["model"], "version": data["version"]}
    return JsonResponse({**body, "created": created.isoformat()}, status=201)


def password_hash(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    json.loads(request.body)
    encoded = make_password(secrets.token_urlsafe(15))
    return JsonResponse({"hash_length": len(encoded)}, status=201)


urlpatterns = [
    path("robots/", robot_create),
    path("password-hash/", password_hash),
]
