"""What every app shares in the database: idempotency keys."""

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """The first successful response to a request that carried an `Idempotency-Key`.

    A retry with the same key and the same request gets this response back and changes
    nothing; the same key with another request is a conflict. Keys belong to the caller
    that sent them, and expire after IDEMPOTENCY_KEY_TTL.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_unique_per_owner"),
        ]

    def __str__(self) -> str:
        return self.key
