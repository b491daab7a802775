"""The customers API: CRUD, validation, filters, roles."""

import pytest

from customers.models import Customer

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/"


@pytest.fixture
def marketing(client_for_role):
    return client_for_role("marketing")


def test_a_customer_is_created_with_the_operator_code_of_its_phone(marketing):
    response = marketing.post(
        URL, {"phone_number": "+7 (912) 345-67-89", "tag": "vip", "timezone": "GMT+3"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phone_number"] == "79123456789"
    assert body["operator_code"] == "912"
    assert body["timezone"] == "UTC+03:00"
    assert body["email"] is None
    assert Customer.objects.get(pk=body["id"]).tag == "vip"


def test_a_russian_number_written_with_the_trunk_prefix_8_is_kept_as_7_and_ten_digits(marketing):
    response = marketing.post(URL, {"phone_number": "8 (912) 345-67-89"}, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["phone_number"], response.json()["operator_code"]) == ("79123456789", "912")


def test_a_customer_without_email_and_phone_is_refused(marketing):
    response = marketing.post(URL, {"tag": "vip"}, format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()["fields"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone_number": "+1 202 555 0143"}, "phone_number"),
        ({"phone_number": "7912345678"}, "phone_number"),
        ({"phone_number": "79123456789", "timezone": "Mars/Base"}, "timezone"),
        ({"phone_number": "79123456789", "operator_code": "9x2"}, "operator_code"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_invalid_fields_are_named(marketing, body, field):
    response = marketing.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_duplicate_phone_or_email_is_a_conflict(marketing):
    marketing.post(URL, {"phone_number": "79123456789", "email": "a@example.com"}, format="json")

    by_phone = marketing.post(URL, {"phone_number": "79123456789"}, format="json")
    by_email = marketing.post(URL, {"email": "A@example.com"}, format="json")

    assert by_phone.status_code == 409
    assert "phone_number" in by_phone.json()["fields"]
    assert by_email.status_code == 409
    assert Customer.objects.count() == 1


def test_a_new_phone_brings_its_operator_code_unless_one_was_set(marketing):
    created = marketing.post(URL, {"phone_number": "79123456789"}, format="json").json()
    manual = marketing.post(URL, {"phone_number": "79990000000", "operator_code": "123"}, format="json").json()

    moved = marketing.patch(f"{URL}{created['id']}/", {"phone_number": "79261112233"}, format="json").json()
    kept = marketing.patch(f"{URL}{manual['id']}/", {"phone_number": "79261112234"}, format="json").json()

    assert moved["operator_code"] == "926"
    assert kept["operator_code"] == "123"


def test_put_replaces_and_delete_removes(marketing):
    created = marketing.post(URL, {"phone_number": "79123456789", "tag": "vip"}, format="json").json()

    replaced = marketing.put(f"{URL}{created['id']}/", {"email": "x@example.com"}, format="json")
    deleted = marketing.delete(f"{URL}{created['id']}/")

    assert replaced.status_code == 200
    assert replaced.json()["phone_number"] is None
    assert replaced.json()["tag"] == ""
    assert deleted.status_code == 204
    assert not Customer.objects.exists()


def test_the_list_filters_by_tag_and_operator_code(marketing, django_assert_max_num_queries):
    for phone, tag in [("79120000001", "vip"), ("79260000002", "vip"), ("79120000003", "new")]:
        marketing.post(URL, {"phone_number": phone, "tag": tag}, format="json")

    with django_assert_max_num_queries(6):
        response = marketing.get(URL, {"tag": "vip", "operator_code": "912"})

    assert response.status_code == 200
    assert [c["phone_number"] for c in response.json()["results"]] == ["79120000001"]


def test_the_phone_and_email_filters_take_what_the_writes_take(marketing):
    """A phone as people write it, and an e-mail in any case (as the unique constraint compares
    it: PostgreSQL's lower(), under which the Kelvin sign is a k)."""
    created = marketing.post(URL, {"phone_number": "79123456789", "email": "kk@ka.example.com"}, format="json")
    assert created.status_code == 201, created.json()

    def found(**query) -> list:
        response = marketing.get(URL, query)
        assert response.status_code == 200, response.json()
        return [c["id"] for c in response.json()["results"]]

    assert found(phone_number="+7 (912) 345-67-89") == [created.json()["id"]]
    assert found(phone_number="8 912 345 67 89") == [created.json()["id"]]
    assert found(email="KK@KA.EXAMPLE.COM") == [created.json()["id"]]
    assert found(email="\u212ak@ka.example.com") == [created.json()["id"]]
    assert marketing.get(URL, {"phone_number": "+1 555 0100"}).status_code == 400


@pytest.mark.parametrize(("role", "write"), [("sales", 201), ("manager", 403), ("production_line", 403)])
def test_roles(client_for_role, role, write):
    client = client_for_role(role)

    assert client.post(URL, {"phone_number": "79123456789"}, format="json").status_code == write
    assert client.get(URL).status_code == (403 if role == "production_line" else 200)


def test_anonymous_callers_are_refused(api_client):
    assert api_client.get(URL).status_code in (401, 403)


def test_a_customer_with_orders_cannot_be_deleted(marketing):
    from orders.models import Order

    created = marketing.post(URL, {"email": "buyer@example.com"}, format="json").json()
    Order.objects.create(customer_id=created["id"], robot_serial="R2-D2")

    response = marketing.delete(f"{URL}{created['id']}/")

    assert response.status_code == 409
    assert response.json()["code"] == "customer_in_use"
    assert Customer.objects.filter(pk=created["id"]).exists()


def test_the_orders_lookup_by_email_still_creates_e_mail_only_customers():
    from customers.services import customer_get_or_create_by_email

    first = customer_get_or_create_by_email(email="Buyer@Example.com")
    again = customer_get_or_create_by_email(email="buyer@example.com")

    assert first.pk == again.pk
    assert first.phone_number is None
    assert first.timezone == "Europe/Moscow"
