"""Outbox reads for other apps: which e-mails were asked for, by their dedup keys."""

from notifications.models import Email


def email_by_dedup_key(*, dedup_key: str) -> Email | None:
    """The e-mail recorded under `dedup_key`, whatever its status; None when none was."""
    return Email.objects.filter(dedup_key=dedup_key).first()


def email_newest_dedup_key(*, prefix: str) -> str | None:
    """The greatest dedup key starting with `prefix` (keys that end in an ISO date sort by
    date), or None."""
    return (
        Email.objects.filter(dedup_key__startswith=prefix)
        .order_by("-dedup_key")
        .values_list("dedup_key", flat=True)
        .first()
    )
