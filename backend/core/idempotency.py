"""The `Idempotency-Key` mechanism (DESIGN.md §4), for any API that creates something.

The key's row is inserted in the same transaction as the work it guards:
- the first request inserts the row, does the work and stores its response, all in one
  commit; if the work fails, the row goes with it, so a corrected retry may reuse the key;
- a concurrent request with the same key waits on the row's unique index until the first
  commits, then reads the stored response instead of doing the work again;
- a request whose key is known but whose method, path or body differ gets a 409.
"""

import functools
import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import ApplicationError, Conflict
from core.models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def request_fingerprint(request: Request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    except TypeError:
        body = repr(request.data)
    digest = hashlib.sha256()
    for part in (request.method, request.path, body):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def idempotent(view_method):
    """Decorates an APIView handler (`post`) to honour the `Idempotency-Key` header."""

    @functools.wraps(view_method)
    def wrapper(view, request: Request, *args, **kwargs) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(view, request, *args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ApplicationError(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters long.", code="invalid_idempotency_key"
            )
        fingerprint = request_fingerprint(request)  # parses the body before any lock is taken
        with transaction.atomic():
            entry, created = _claim(owner_id=request.user.pk, key=key, fingerprint=fingerprint)
            if not created:
                if entry.fingerprint != fingerprint:
                    raise Conflict(
                        f"This {HEADER} was already used for a different request.", code="idempotency_key_reused"
                    )
                response = Response(entry.response_body, status=entry.response_status)
                response["Idempotent-Replayed"] = "true"
                return response
            response = view_method(view, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                IdempotencyKey.objects.filter(pk=entry.pk).update(
                    response_status=response.status_code, response_body=response.data
                )
            else:
                transaction.set_rollback(True)
            return response

    return wrapper


_claim_sql: str | None = None


def _claim_statement() -> str:
    """The claim's one statement, built once per process from the model's names."""
    global _claim_sql
    if _claim_sql is None:
        quote = connection.ops.quote_name
        fields = IdempotencyKey._meta
        column = {name: quote(fields.get_field(name).column) for name in _CLAIM_FIELDS + _RESPONSE_FIELDS}
        insert = ", ".join(column[name] for name in _CLAIM_FIELDS)
        _claim_sql = (
            f"INSERT INTO {quote(fields.db_table)} AS k ({insert}) VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
            f"ON CONFLICT ({column['owner']}, {column['key']}) DO UPDATE SET "
            + ", ".join(f"{column[name]} = EXCLUDED.{column[name]}" for name in _CLAIM_FIELDS[2:])
            + "".join(f", {column[name]} = NULL" for name in _RESPONSE_FIELDS)
            + f" WHERE k.{column['expires_at']} <= EXCLUDED.{column['created_at']} "
            f"RETURNING k.{quote(fields.pk.column)}"
        )
    return _claim_sql


_CLAIM_FIELDS = ("owner", "key", "fingerprint", "created_at", "expires_at")
_RESPONSE_FIELDS = ("response_status", "response_body")


def _claim(*, owner_id: int, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """Inserts the key, or waits for a concurrent insert to commit and returns that row.

    One statement when the key is new (the hot path): an expired row of the same key is
    taken over in place (ON CONFLICT … DO UPDATE … WHERE expired), a live one is left alone
    and read. ON CONFLICT blocks on a concurrent uncommitted insert of the same key, then
    decides: exactly one request wins, the others read its committed result.
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_statement(),
            [owner_id, key, fingerprint, now, now + timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)],
        )
        inserted = cursor.fetchone()
    if inserted is not None:
        return IdempotencyKey(pk=inserted[0], owner_id=owner_id, key=key, fingerprint=fingerprint), True
    return IdempotencyKey.objects.get(owner_id=owner_id, key=key), False


def idempotency_keys_purge(*, now=None) -> int:
    """Deletes expired keys; returns how many went."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    if deleted:
        logger.info("purged %d expired idempotency keys", deleted)
    return deleted
