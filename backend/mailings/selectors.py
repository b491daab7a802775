"""Mailing reads: lists, messages, and the statistics (counts by status)."""

from collections.abc import Mapping

from django.db.models import Count, Q, QuerySet

from core.filters import filterset_apply
from core.selectors import get_or_404
from mailings.filters import MailingFilter, MessageFilter
from mailings.models import Mailing, MailingStatus, Message, MessageStatus


def message_count_annotations() -> dict:
    """Annotations n_<status> and n_total: a mailing's messages by status."""
    counts = {status: Count("messages", filter=Q(messages__status=status)) for status in MessageStatus.values}
    return {f"n_{status}": aggregate for status, aggregate in counts.items()} | {"n_total": Count("messages")}


def mailing_list(*, filters: Mapping | None = None) -> QuerySet[Mailing]:
    """Mailings not deleted, newest start first; `filters` (e.g. the query parameters) go
    through MailingFilter, so a bad value raises a ValidationError (a 400)."""
    queryset = Mailing.objects.filter(deleted_at__isnull=True).order_by("-start_at", "-id")
    if filters is not None:
        queryset = filterset_apply(MailingFilter, filters, queryset)
    return queryset


def mailing_get(*, mailing_id: int) -> Mailing:
    """A mailing not deleted; Http404 (the API's 404) otherwise."""
    return get_or_404(mailing_list(), pk=mailing_id)


def mailing_stats_list(*, filters: Mapping | None = None) -> QuerySet[Mailing]:
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


def message_list(*, mailing_id: int | None = None, filters: Mapping | None = None) -> QuerySet[Message]:
    """Messages by id, of one mailing or all; `filters` go through MessageFilter (a bad value
    raises a ValidationError, a 400)."""
    queryset = Message.objects.order_by("id")
    if mailing_id is not None:
        queryset = queryset.filter(mailing_id=mailing_id)
    if filters is not None:
        queryset = filterset_apply(MessageFilter, filters, queryset)
    return queryset


def mailing_status_counts() -> dict[str, int]:
    """Mailings not deleted by status (every status present, zero included, in the order of
    MailingStatus), one aggregate query."""
    counts = dict.fromkeys(MailingStatus.values, 0)
    counts.update(dict(mailing_list().order_by().values_list("status").annotate(n=Count("id"))))
    return counts
