"""The customer import locks the stored customers it matched in one order (by id), whatever
the order of the file, so two imports touching the same customers wait for each other
instead of deadlocking."""

import threading
import time

import psycopg
import pytest
from django.db import connection, connections, transaction

from customers.models import Customer
from customers.services import _stored_matching

pytestmark = pytest.mark.django_db(transaction=True)


def _other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("context", None)
    params.pop("cursor_factory", None)
    return psycopg.connect(**params, autocommit=False)


def test_matched_customers_are_locked_by_id_whatever_the_order_of_the_file():
    # given two customers, and another transaction holding the one with the lower id
    low = Customer.objects.create(phone_number="79120000001", email="low@example.com")
    high = Customer.objects.create(phone_number="79120000002", email="high@example.com")
    table = Customer._meta.db_table
    holder = _other_connection()
    holder.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [low.pk])
    waiting = []

    def import_batch():  # a batch naming the higher id first (the file's order)
        try:
            with transaction.atomic():
                waiting.append(connection.connection.info.backend_pid)
                _stored_matching([high.phone_number, low.phone_number], ["high@example.com", "low@example.com"])
        finally:
            connections.close_all()

    thread = threading.Thread(target=import_batch)
    thread.start()
    try:
        # when the import waits for the lower id
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if waiting:
                row = holder.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [waiting[0]]
                ).fetchone()
                if row and row[0] == "Lock":
                    break
            time.sleep(0.02)
        else:
            pytest.fail("the import never waited for the locked customer")

        # then it holds no lock on the higher id yet: a transaction locking in id order can take it
        probe = _other_connection()
        try:
            locked = probe.execute(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE SKIP LOCKED", [high.pk]).fetchall()
        finally:
            probe.close()
        assert locked == [(high.pk,)]
    finally:
        holder.rollback()
        holder.close()
        thread.join()
