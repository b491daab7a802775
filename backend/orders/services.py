"""Order writes and the allocation of robots to orders, first come first served."""

import logging

from django.conf import settings
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from core.exceptions import ApplicationError
from core.selectors import get_or_404
from customers.services import customer_get_or_create_by_email
from notifications.services import email_enqueue
from orders.models import Order, OrderStatus
from robots.events import RobotsProduced
from robots.selectors import robot_list, robot_version_exists

logger = logging.getLogger(__name__)


def _lock_serials(serials: set[str]) -> None:
    """Serialises allocation per serial across transactions (robots, orders, cancellations).

    Without it a robot and an order of one serial committed at the same moment would each
    miss the other. Locks are taken in sorted order, so two batches never deadlock.
    """
    with connection.cursor() as cursor:
        for serial in sorted(serials):
            cursor.execute(LOCK_SQL, [f"r4c:serial:{serial}"])


LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(%s))"
_waiting_sql: str | None = None


def _serials_waited_for(serials: list[str]) -> set[str]:
    """Those of `serials` (sorted) for which an order waits, their locks taken first, so a robot
    that no order waits for costs the lock and an index probe (order_waiting_by_serial) and
    nothing else, both prepared statements. The probe is a statement of its own after the
    locks: in READ COMMITTED it then sees every order committed by a transaction that held a
    lock before us. (Sent one after the other: psycopg's pipeline mode, which would send them
    together, cost more CPU on both sides than the round trip it saves, measured on loopback.)"""
    global _waiting_sql
    if _waiting_sql is None:
        quote = connection.ops.quote_name
        meta = Order._meta
        # The status is a literal, not a parameter: after five runs PostgreSQL tries a plan made
        # once for any parameters, and with `status = $2` that plan cannot use the partial index
        # (WHERE status = 'waiting'), only a scan of every order: with many orders it then plans
        # every run again, with few it keeps the scan. (A code of the model's choices: a word.)
        _waiting_sql = (
            "SELECT s FROM unnest(%s::text[]) AS s WHERE EXISTS ("  # noqa: S608 (names from the model)
            f"SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(meta.get_field('robot_serial').column)} = s "
            f"AND {quote(meta.get_field('status').column)} = '{OrderStatus.WAITING.value}')"
        )
    with connection.prepared_cursor() as cursor:
        for serial in serials:
            cursor.execute(LOCK_SQL, [f"r4c:serial:{serial}"])
        cursor.execute(_waiting_sql, [serials])
        return {row[0] for row in cursor.fetchall()}


def orders_allocate(*, serials: set[str], limit: int) -> list[Order]:
    """Gives free robots of each serial to its waiting orders, oldest first, and queues the
    availability e-mails. Must run inside the transaction that changed robots or orders.

    `limit` bounds the pairings per serial: the change that calls this (k new robots, one
    new order, one freed robot) can make at most that many, because before it no order of
    the serial waited while one of its robots was free. So the work per call never grows
    with the number of waiting orders or of robots in stock.
    """
    if not serials:
        return []
    # Under the locks every order of the serial committed before them is visible: when none
    # waits (most robots), the probe is all, in the locks' round trip.
    waited_for = _serials_waited_for(sorted(serials))
    notified = []
    for serial in sorted(waited_for):
        waiting = list(
            Order.objects.select_for_update(of=("self",))
            .filter(robot_serial=serial, status=OrderStatus.WAITING)
            .order_by("created_at", "id")
            .select_related("customer")[:limit]
        )
        if not waiting:
            continue
        free = list(
            robot_list()
            .filter(serial=serial, order__isnull=True)
            .order_by("created", "id")
            .values_list("pk", flat=True)[: len(waiting)]
        )
        now = timezone.now()
        for order, robot_id in zip(waiting, free, strict=False):
            order.robot_id = robot_id
            order.status = OrderStatus.NOTIFIED
            order.notified_at = now
            order.save(update_fields=["robot", "status", "notified_at"])
            _availability_email_enqueue(order=order)
            notified.append(order)
            logger.info("order %s got robot %s (%s)", order.pk, robot_id, serial)
    return notified


def robots_produced_allocate(event: RobotsProduced) -> None:
    """Subscriber of RobotsProduced (orders.apps): new robots go to the oldest waiting orders
    of their serials, in the ingest transaction (at most one order per new robot)."""
    orders_allocate(serials=set(event.serials), limit=event.count)


def _availability_email_enqueue(*, order: Order) -> None:
    model, version = order.robot_serial.split("-")
    context = {"model": model, "version": version}
    language = settings.NOTIFICATION_LANGUAGE
    email_enqueue(
        to=[order.customer.email],
        subject=render_to_string(f"orders/robot_available.{language}.subject.txt", context).strip(),
        body_text=render_to_string(f"orders/robot_available.{language}.txt", context),
        body_html=render_to_string(f"orders/robot_available.{language}.html", context),
        dedup_key=f"order:{order.pk}:robot:{order.robot_id}",
    )


def order_create(*, email: str, robot_serial: str) -> Order:
    """Records an order; if a robot of its serial is free, it is reserved and e-mailed at once."""
    model, _, version = robot_serial.partition("-")
    if not robot_version_exists(model=model, version=version):
        raise ApplicationError(
            "The order was rejected; see `fields`.",
            fields={"robot_serial": [f"{robot_serial!r} is not a robot model-version of the catalog."]},
        )
    with transaction.atomic():
        customer = customer_get_or_create_by_email(email=email)
        order = Order.objects.create(customer=customer, robot_serial=robot_serial)
        orders_allocate(serials={robot_serial}, limit=1)
        order.refresh_from_db()
    logger.info("order %s created for %s (%s)", order.pk, robot_serial, order.status)
    return order


def order_cancel(*, order_id: int) -> Order:
    """Cancels an order; a robot it held goes to the next waiting order of its serial."""
    with transaction.atomic():
        order = get_or_404(Order.objects.select_for_update(of=("self",)).select_related("customer"), pk=order_id)
        if order.status == OrderStatus.CANCELLED:
            return order
        _lock_serials({order.robot_serial})
        order.status = OrderStatus.CANCELLED
        order.cancelled_at = timezone.now()
        order.robot = None
        order.save(update_fields=["status", "cancelled_at", "robot"])
        orders_allocate(serials={order.robot_serial}, limit=1)
    logger.info("order %s cancelled", order.pk)
    return order
