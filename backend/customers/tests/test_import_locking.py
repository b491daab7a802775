"""The customer import locks the stored customers it matched in one order (by id) and inserts
new ones in phone order, whatever the order of the file, so two imports touching the same
customers wait for each other instead of deadlocking."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from customers.import_files import Row
from customers.models import Customer
from customers.services import _customers_write, _RowErrors, _stored_matching, customer_build

pytestmark = pytest.mark.django_db(transaction=True)


def _other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("context", None)
    params.pop("cursor_factory", None)
    return psycopg.connect(**params, autocommit=False)


def _wait_until_waiting_for_a_lock(observer: psycopg.Connection, pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pids:
            row = observer.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pids[0]]).fetchone()
            if row and row[0] == "Lock":
                return
        time.sleep(0.02)
    pytest.fail("the import never waited for the locked customer")


@contextmanager
def _work_waiting_for(holder: psycopg.Connection, work: Callable[[], object]) -> Iterator[None]:
    """Runs `work` in a transaction in another thread and yields once it waits for a lock that
    `holder` holds; then `holder` lets go and the thread ends."""
    waiting = []

    def run() -> None:
        try:
            with transaction.atomic():
                waiting.append(connection.connection.info.backend_pid)
                work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        _wait_until_waiting_for_a_lock(holder, waiting)
        yield
    finally:
        holder.rollback()
        holder.close()
        thread.join()


def test_matched_customers_are_locked_by_id_whatever_the_order_of_the_file():
    # given two customers, and another transaction holding the one with the lower id
    low = Customer.objects.create(phone_number="79120000001", email="low@example.com")
    high = Customer.objects.create(phone_number="79120000002", email="high@example.com")
    table = Customer._meta.db_table
    holder = _other_connection()
    holder.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [low.pk])

    # when an import batch naming the higher id first (the file's order) waits for the lower id
    batch = [high.phone_number, low.phone_number], ["high@example.com", "low@example.com"]
    with _work_waiting_for(holder, lambda: _stored_matching(*batch)):
        # then it holds no lock on the higher id yet: a transaction locking in id order can take it
        probe = _other_connection()
        try:
            locked = probe.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE SKIP LOCKED", [high.pk]).fetchall()
        finally:
            probe.close()
    assert locked == [(high.pk,)]


def test_new_customers_are_inserted_in_phone_order_whatever_the_order_of_the_file():
    # given another transaction that has inserted (not committed) a customer with the lower phone
    holder = _other_connection()
    table = Customer._meta.db_table
    insert = (
        f"INSERT INTO {table} (phone_number, email, operator_code, tag, timezone, created_at, updated_at) "
        "VALUES (%s, NULL, '', '', 'UTC', now(), now()) ON CONFLICT DO NOTHING"
    )
    holder.execute(insert, ["79120000001"])
    creates = []  # a batch naming the higher phone first (the file's order)
    for number, phone in ((2, "79120000002"), (3, "79120000001")):
        customer = customer_build(phone_number=phone)
        customer.created_at = customer.updated_at = timezone.now()
        creates.append((Row(number=number, values={"phone_number": phone}), customer))

    # when the import waits for the lower phone
    with _work_waiting_for(holder, lambda: _customers_write(creates, [], _RowErrors())):
        # then it has not taken the higher phone yet: another writer in phone order can insert it
        probe = _other_connection()
        try:
            probe.execute("SET lock_timeout = '200ms'")
            probe.execute(insert, ["79120000002"])
            probe.rollback()
        finally:
            probe.close()
