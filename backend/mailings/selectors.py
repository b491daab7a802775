"""Mailing reads: lists, messages, and the statistics (counts by status)."""

from django.db.models import Count, Q, QuerySet

from mailings.models import Mailing, Message, MessageStatus


def message_count_annotations() -> dict:
    """Annotations n_<status> and n_total: a mailing's messages by status."""
    counts = {status: Count("messages", filter=Q(messages__status=status)) for status in MessageStatus.values}
    return {f"n_{status}": aggregate for status, aggregate in counts.items()} | {"n_total": Count("messages")}


def mailing_list(*, filters: dict | None = None) -> QuerySet[Mailing]:
    """Mailings not deleted, newest start first; filter by status."""
    queryset = Mailing.objects.filter(deleted_at__isnull=True)
    if filters and filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    return queryset.order_by("-start_at", "-id")


def mailing_get(*, mailing_id: int) -> Mailing:
    return Mailing.objects.get(pk=mailing_id, deleted_at__isnull=True)


def mailing_stats_list(*, filters: dict | None = None) -> QuerySet[Mailing]:
    """Every mailing with its message counts by status (n_pending, n_sent, ..., n_total)."""
    return mailing_list(filters=filters).annotate(**message_count_annotations())


def message_counts(*, mailings: QuerySet[Mailing] | None = None, mailing_id: int | None = None) -> dict[str, int]:
    """Messages by status (every status present, zero included) and `total`."""
    queryset = Message.objects.all()
    if mailing_id is not None:
        queryset = queryset.filter(mailing_id=mailing_id)
    elif mailings is not None:
        queryset = queryset.filter(mailing__in=mailings.values("pk"))
    counts = dict.fromkeys(MessageStatus.values, 0)
    counts.update(dict(queryset.order_by().values_list("status").annotate(n=Count("id"))))
    counts["total"] = sum(counts.values())
    return counts


def message_list(*, filters: dict | None = None) -> QuerySet[Message]:
    filters = filters or {}
    queryset = Message.objects.all()
    for key in ("mailing", "customer", "status"):
        if filters.get(key):
            queryset = queryset.filter(**{key: filters[key]})
    return queryset.order_by("id")
