import pytest

from orders.models import Order
from robots.services import robot_create
from robots.tests.factories import RobotVersionFactory

pytestmark = pytest.mark.django_db
ROBOT = {"model": "R2", "version": "D2", "created": "2023-10-03 23:59:12"}


@pytest.fixture
def sales(client_for_role):
    RobotVersionFactory(model__code="R2", code="D2")
    return client_for_role("sales")


def test_an_order_is_created_from_json(sales):
    response = sales.post("/api/v1/orders/", {"email": "ann@example.com", "robot_serial": "R2-D2"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["email"], body["robot_serial"], body["status"], body["robot"]) == (
        "ann@example.com",
        "R2-D2",
        "waiting",
        None,
    )


def test_an_order_is_created_from_the_shops_form_with_robot_dash_serial(sales):
    response = sales.post("/api/v1/orders/", {"email": "ann@example.com", "robot-serial": "R2-D2"}, format="multipart")

    assert response.status_code == 201
    assert response.json()["robot_serial"] == "R2-D2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "robot_serial": "R2-D2"}, "email"),
        ({"email": "ann@example.com", "robot_serial": "X9-Z9"}, "robot_serial"),
        ({"email": "ann@example.com", "robot_serial": "R2D2"}, "robot_serial"),
        ({"email": "ann@example.com"}, "robot_serial"),
    ],
)
def test_bad_orders_are_400s_naming_the_field(sales, body, field):
    response = sales.post("/api/v1/orders/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Order.objects.exists()


def test_a_retried_order_with_the_same_key_is_created_once(sales):
    body = {"email": "ann@example.com", "robot_serial": "R2-D2"}

    first = sales.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="shop-1")
    retry = sales.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="shop-1")

    assert first.json() == retry.json()
    assert Order.objects.count() == 1


def test_orders_are_listed_filtered_read_and_cancelled(sales):
    robot_create(data=ROBOT)
    notified = sales.post("/api/v1/orders/", {"email": "Ann@Example.com", "robot_serial": "R2-D2"}, format="json")
    waiting = sales.post("/api/v1/orders/", {"email": "bob@example.com", "robot_serial": "R2-D2"}, format="json")

    by_status = sales.get("/api/v1/orders/", {"status": "waiting"}).json()
    by_email = sales.get("/api/v1/orders/", {"email": "ann@example.com"}).json()
    one = sales.get(f"/api/v1/orders/{waiting.json()['id']}/").json()
    cancelled = sales.post(f"/api/v1/orders/{notified.json()['id']}/cancel/")

    assert [o["email"] for o in by_status["results"]] == ["bob@example.com"]
    assert [o["status"] for o in by_email["results"]] == ["notified"]
    assert one["status"] == "waiting"
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert sales.get(f"/api/v1/orders/{waiting.json()['id']}/").json()["status"] == "notified"
    assert sales.post("/api/v1/orders/999999/cancel/").status_code == 404


def test_stock_shows_reserved_robots(sales, client_for_role):
    robot_create(data=ROBOT)
    robot_create(data=ROBOT)
    sales.post("/api/v1/orders/", {"email": "ann@example.com", "robot_serial": "R2-D2"}, format="json")

    stock = sales.get("/api/v1/stock/").json()["results"]

    assert stock == [{"serial": "R2-D2", "model": "R2", "version": "D2", "produced": 2, "reserved": 1, "available": 1}]


def test_production_lines_cannot_touch_orders(client_for_role, sales):
    line = client_for_role("production_line")

    assert line.get("/api/v1/orders/").status_code == 403
    assert line.post("/api/v1/orders/", {"email": "a@b.c", "robot_serial": "R2-D2"}, format="json").status_code == 403


def test_the_order_list_costs_a_fixed_number_of_queries(sales, django_assert_max_num_queries):
    for i in range(10):
        sales.post("/api/v1/orders/", {"email": f"c{i}@example.com", "robot_serial": "R2-D2"}, format="json")

    with django_assert_max_num_queries(4):
        assert sales.get("/api/v1/orders/").json()["count"] == 10


@pytest.mark.parametrize("body", ["null", "[]", '"R2-D2"'])
def test_an_order_body_that_is_not_an_object_is_a_400(sales, body):
    response = sales.post("/api/v1/orders/", body, content_type="application/json")

    assert response.status_code == 400
