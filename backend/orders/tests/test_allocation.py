"""Allocation: each robot to at most one order, oldest waiting order first, one e-mail each."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import events
from notifications.models import Email
from orders.models import Order, OrderStatus
from orders.services import order_cancel, order_create, robots_produced_allocate
from robots.events import RobotsProduced
from robots.models import Robot
from robots.services import robot_create, robots_create_batch
from robots.tests.factories import RobotVersionFactory

ROBOT = {"model": "R2", "version": "D2", "created": "2023-10-03 23:59:12"}


@pytest.fixture
def r2d2(db):
    return RobotVersionFactory(model__code="R2", code="D2")


@pytest.mark.django_db
def test_a_robot_goes_to_the_oldest_waiting_order_and_its_customer_gets_one_e_mail(r2d2):
    older = order_create(email="first@example.com", robot_serial="R2-D2")
    newer = order_create(email="second@example.com", robot_serial="R2-D2")

    robot = robot_create(data=ROBOT)

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, older.robot) == (OrderStatus.NOTIFIED, robot)
    assert (newer.status, newer.robot) == (OrderStatus.WAITING, None)
    email = Email.objects.get()
    assert email.recipients == ["first@example.com"]
    assert "модели R2, версии D2" in email.body_text


@pytest.mark.django_db
def test_an_order_takes_a_robot_in_stock_at_once(r2d2):
    robot = robot_create(data=ROBOT)

    order = order_create(email="ann@example.com", robot_serial="R2-D2")

    assert (order.status, order.robot) == (OrderStatus.NOTIFIED, robot)
    assert Email.objects.count() == 1


@pytest.mark.django_db
def test_the_availability_e_mail_is_the_agreed_text(r2d2):
    order_create(email="ann@example.com", robot_serial="R2-D2")
    robot_create(data=ROBOT)

    assert Email.objects.get().body_text == (
        "Добрый день!\n"
        "Недавно вы интересовались нашим роботом модели R2, версии D2.\n"
        "Этот робот теперь в наличии. Если вам подходит этот вариант - пожалуйста, свяжитесь с нами\n"
    )


@pytest.mark.django_db
def test_the_english_template_is_used_when_configured(r2d2, settings):
    settings.NOTIFICATION_LANGUAGE = "en"
    order_create(email="ann@example.com", robot_serial="R2-D2")
    robot_create(data=ROBOT)

    email = Email.objects.get()
    assert email.subject == "Robot R2-D2 is in stock"
    assert "model R2, version D2" in email.body_text


@pytest.mark.django_db
def test_a_batch_serves_waiting_orders_first_come_first_served(r2d2):
    orders = [order_create(email=f"c{i}@example.com", robot_serial="R2-D2") for i in range(3)]

    robots_create_batch(items=[ROBOT, ROBOT])

    statuses = [Order.objects.get(pk=order.pk).status for order in orders]
    assert statuses == [OrderStatus.NOTIFIED, OrderStatus.NOTIFIED, OrderStatus.WAITING]
    assert Email.objects.count() == 2


@pytest.mark.django_db
def test_cancelling_a_notified_order_frees_its_robot_for_the_next_waiting_order(r2d2):
    first = order_create(email="first@example.com", robot_serial="R2-D2")
    second = order_create(email="second@example.com", robot_serial="R2-D2")
    robot = robot_create(data=ROBOT)

    order_cancel(order_id=first.pk)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.robot) == (OrderStatus.CANCELLED, None)
    assert (second.status, second.robot) == (OrderStatus.NOTIFIED, robot)
    assert sorted(r for e in Email.objects.all() for r in e.recipients) == ["first@example.com", "second@example.com"]


@pytest.mark.django_db
def test_cancelling_twice_changes_nothing(r2d2):
    order = order_create(email="ann@example.com", robot_serial="R2-D2")

    order_cancel(order_id=order.pk)
    again = order_cancel(order_id=order.pk)

    assert again.status == OrderStatus.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_concurrent_robots_and_orders_never_share_a_robot_nor_skip_a_waiting_order(r2d2):
    """8 threads add orders, 8 add robots, all at once; afterwards every robot has at most one
    order, and no order waits while a robot of its serial is free."""
    barrier = threading.Barrier(16)
    errors = []

    def run(action) -> None:
        try:
            barrier.wait()
            action()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    actions = [lambda i=i: order_create(email=f"c{i}@example.com", robot_serial="R2-D2") for i in range(8)]
    actions += [lambda: robot_create(data=ROBOT) for _ in range(8)]
    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    notified = Order.objects.filter(status=OrderStatus.NOTIFIED)
    assert notified.count() == 8
    assert len(set(notified.values_list("robot_id", flat=True))) == 8
    assert not Robot.objects.filter(order__isnull=True).exists()
    assert Email.objects.count() == 8


def test_orders_subscribe_to_the_robots_produced_event():
    assert events.subscribers(RobotsProduced) == (robots_produced_allocate,)


@pytest.mark.django_db
def test_a_robot_no_order_waits_for_costs_one_probe_of_the_orders(r2d2):
    # given an order waiting for another serial only
    order_create(email="ann@example.com", robot_serial="R2-D2")
    other = RobotVersionFactory(model__code="C3", code="PO")

    # when a robot of a serial nobody waits for is recorded
    with CaptureQueriesContext(connection) as queries:
        robot_create(data={"model": "C3", "version": other.code, "created": "2023-10-03 23:59:12"})

    # then the orders were looked at once, by an EXISTS on the waiting orders, and no order was locked
    on_orders = [query["sql"] for query in queries if Order._meta.db_table in query["sql"]]
    assert len(on_orders) == 1, on_orders
    assert "EXISTS" in on_orders[0] and "FOR UPDATE" not in on_orders[0]


def _wait_for_a_lock_wait(what: str) -> None:
    """Polls pg_locks until some session of this test waits for an advisory lock."""
    from tests.stack import wait_until

    def waiting() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            return cursor.fetchone()[0] > 0

    wait_until(waiting, timeout=10, interval=0.01, what=what)


def _in_thread(action, results: dict, name: str) -> threading.Thread:
    def run() -> None:
        try:
            results[name] = action()
        except Exception as exc:
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_an_order_placed_while_a_robot_is_being_ingested_gets_that_robot(r2d2):
    """The robot's transaction has inserted it and probed for waiting orders (none yet) but not
    committed; an order placed then waits for the serial's lock, and finds the robot once the
    robot's transaction commits."""
    from django.db import transaction

    results = {}
    inserted, release = threading.Event(), threading.Event()

    def ingest():
        with transaction.atomic():
            robot = robot_create(data=ROBOT)
            inserted.set()
            release.wait(10)
        return robot

    robot_thread = _in_thread(ingest, results, "robot")
    assert inserted.wait(10)
    order_thread = _in_thread(lambda: order_create(email="ann@example.com", robot_serial="R2-D2"), results, "order")
    _wait_for_a_lock_wait("the order to wait for the robot's lock")
    release.set()
    robot_thread.join(10)
    order_thread.join(10)

    robot, order = results["robot"], results["order"]
    assert isinstance(robot, Robot), robot
    assert order.status == OrderStatus.NOTIFIED
    assert order.robot_id == robot.pk
    assert Email.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_robot_ingested_while_an_order_is_being_placed_goes_to_that_order(r2d2):
    """The order's transaction has inserted it and found no robot but not committed; a robot
    ingested then waits for the serial's lock, and sees the order once it commits."""
    from django.db import transaction

    results = {}
    placed, release = threading.Event(), threading.Event()

    def place():
        with transaction.atomic():
            order = order_create(email="ann@example.com", robot_serial="R2-D2")
            placed.set()
            release.wait(10)
        return order

    order_thread = _in_thread(place, results, "order")
    assert placed.wait(10)
    robot_thread = _in_thread(lambda: robot_create(data=ROBOT), results, "robot")
    _wait_for_a_lock_wait("the robot to wait for the order's lock")
    release.set()
    order_thread.join(10)
    robot_thread.join(10)

    assert results["order"].status == OrderStatus.WAITING  # when it was placed
    order = Order.objects.get()
    assert order.status == OrderStatus.NOTIFIED
    assert order.robot_id == results["robot"].pk
    assert Email.objects.count() == 1


def _probe_generic_plan(serials: list[str]) -> str:
    """The plan PostgreSQL makes of the waiting-order probe's prepared statement for any
    parameters (its generic plan, which it switches to after five runs unless planning each
    run looks cheaper), sequential scans priced out so the indexes it may use show."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, cardinality(parameter_types) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%unnest%"],
        )
        [(name, parameters)] = cursor.fetchall()
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        arguments = [serials, OrderStatus.WAITING.value][:parameters]
        cursor.execute(
            f"EXPLAIN EXECUTE {connection.ops.quote_name(name)}({', '.join(['%s'] * parameters)})",
            arguments,
        )
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_the_waiting_order_probe_can_use_the_partial_index_once_prepared(r2d2):
    # given the probe prepared on this connection (run past psycopg's threshold)
    from orders.services import _serials_waited_for

    for _ in range(connection.connection.prepare_threshold + 2):
        assert _serials_waited_for(["R2-D2"]) == set()

    # then its generic plan, planned once for every run, reads the waiting orders' partial
    # index: a status sent as a parameter could match any row, so that plan could not use it
    plan = _probe_generic_plan(["R2-D2"])
    assert "order_waiting_by_serial" in plan, plan
