"""Who may call what: every API operation × every kind of caller, from one table.

The operations come from the OpenAPI schema (v1 and the seed-era routes), so an endpoint
added without a line here fails `test_every_operation_has_a_decision`. A caller is allowed when the answer is not
401/403 (a 400 for the empty body, or a 404 for the made-up id, means it got past the
permission check); denied when it is 401 (anonymous) or 403.

HEAD and OPTIONS are not in the schema and never written in ALLOWED: every path gets them
by the rule of DESIGN.md §4 (HEAD for whoever may GET, OPTIONS for whoever may use any
method there), so a new endpoint is checked for both without a line of its own.
"""

import re

import pytest
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.services import api_token_create
from core.roles import Role

ANONYMOUS, USERADD, ADMIN = "anonymous", "useradd account", "admin"
LINE, SALES, MARKETING, MANAGER = Role.PRODUCTION_LINE, Role.SALES, Role.MARKETING, Role.MANAGER
CALLERS = [ANONYMOUS, LINE, SALES, MARKETING, MANAGER, USERADD, ADMIN]
EVERYONE = set(CALLERS)
SIGNED_IN = EVERYONE - {ANONYMOUS}

# (method, path) -> the callers allowed; superusers may do everything.
ALLOWED = {
    ("POST", "/api/v1/auth/token/"): EVERYONE,
    ("GET", "/api/v1/auth/me/"): SIGNED_IN,
    ("POST", "/api/v1/useradd/"): EVERYONE,
    ("GET", "/api/v1/robot-models/"): {LINE, SALES, MANAGER, ADMIN},
    ("POST", "/api/v1/robot-models/"): {MANAGER, ADMIN},
    ("GET", "/api/v1/robot-models/{code}/"): {LINE, SALES, MANAGER, ADMIN},
    ("POST", "/api/v1/robot-models/{code}/versions/"): {MANAGER, ADMIN},
    ("GET", "/api/v1/robots/"): {MANAGER, ADMIN},
    ("POST", "/api/v1/robots/"): {LINE, ADMIN},
    ("POST", "/api/v1/robots/batch/"): {LINE, ADMIN},
    ("GET", "/api/v1/stock/"): {SALES, MANAGER, ADMIN},
    ("GET", "/api/v1/orders/"): {SALES, MANAGER, ADMIN},
    ("POST", "/api/v1/orders/"): {SALES, ADMIN},
    ("GET", "/api/v1/orders/{id}/"): {SALES, MANAGER, ADMIN},
    ("POST", "/api/v1/orders/{id}/cancel/"): {SALES, ADMIN},
    ("GET", "/api/v1/customers/"): {MARKETING, SALES, MANAGER, ADMIN},
    ("POST", "/api/v1/customers/"): {MARKETING, SALES, ADMIN},
    ("GET", "/api/v1/customers/{id}/"): {MARKETING, SALES, MANAGER, ADMIN},
    ("PUT", "/api/v1/customers/{id}/"): {MARKETING, SALES, ADMIN},
    ("PATCH", "/api/v1/customers/{id}/"): {MARKETING, SALES, ADMIN},
    ("DELETE", "/api/v1/customers/{id}/"): {MARKETING, SALES, ADMIN},
    ("POST", "/api/v1/customers/import/"): {MARKETING, SALES, ADMIN},
    ("GET", "/api/v1/customers/imports/"): {MARKETING, SALES, MANAGER, ADMIN},
    ("GET", "/api/v1/customers/imports/{id}/"): {MARKETING, SALES, MANAGER, ADMIN},
    ("GET", "/api/v1/mailings/"): {MARKETING, MANAGER, ADMIN},
    ("POST", "/api/v1/mailings/"): {MARKETING, ADMIN},
    ("GET", "/api/v1/mailings/{id}/"): {MARKETING, MANAGER, ADMIN},
    ("PUT", "/api/v1/mailings/{id}/"): {MARKETING, ADMIN},
    ("PATCH", "/api/v1/mailings/{id}/"): {MARKETING, ADMIN},
    ("DELETE", "/api/v1/mailings/{id}/"): {MARKETING, ADMIN},
    ("POST", "/api/v1/mailings/{id}/cancel/"): {MARKETING, ADMIN},
    ("POST", "/api/v1/mailings/{id}/pause/"): {MARKETING, ADMIN},
    ("POST", "/api/v1/mailings/{id}/resume/"): {MARKETING, ADMIN},
    ("POST", "/api/v1/mailings/{id}/resend-failed/"): {MARKETING, ADMIN},
    ("GET", "/api/v1/mailings/{id}/stats/"): {MARKETING, MANAGER, ADMIN},
    ("GET", "/api/v1/mailings/stats/"): {MARKETING, MANAGER, ADMIN},
    ("GET", "/api/v1/messages/"): {MARKETING, MANAGER, ADMIN},
    ("GET", "/api/v1/messages/{id}/"): {MARKETING, MANAGER, ADMIN},
    ("GET", "/api/v1/reports/"): {MANAGER, ADMIN},
    ("POST", "/api/v1/reports/"): {MANAGER, ADMIN},
    ("GET", "/api/v1/reports/{id}/"): {MANAGER, ADMIN},
    ("GET", "/api/v1/reports/{id}/download/"): {MANAGER, ADMIN},
    ("GET", "/api/v1/reports/weekly.xlsx"): {MANAGER, ADMIN},
}

# The seed-era routes (legacy): each is allowed to exactly the callers of the v1 operation it
# stands for. /activate_mailing/ starts mailings: marketing's, as creating one on v1 is.
LEGACY = {
    ("POST", "/add_robot/"): ("POST", "/api/v1/robots/"),
    ("POST", "/api/create_robot"): ("POST", "/api/v1/robots/"),
    ("GET", "/download/"): ("GET", "/api/v1/reports/weekly.xlsx"),
    ("GET", "/api/excel_table"): ("GET", "/api/v1/reports/weekly.xlsx"),
    ("POST", "/create_order/"): ("POST", "/api/v1/orders/"),
    **{
        (method, f"/clients/{suffix}"): (method, f"/api/v1/customers/{suffix}")
        for suffix, methods in (("", ("GET", "POST")), ("{id}/", ("GET", "PUT", "PATCH", "DELETE")))
        for method in methods
    },
    **{
        (method, f"/{collection}/{suffix}"): (method, f"/api/v1/mailings/{suffix}")
        for collection in ("mailings", "deliveries")
        for suffix, methods in (("", ("GET", "POST")), ("{id}/", ("GET", "PUT", "PATCH", "DELETE")))
        for method in methods
    },
    ("GET", "/messages/"): ("GET", "/api/v1/messages/"),
    ("GET", "/messages/{id}/"): ("GET", "/api/v1/messages/{id}/"),
    ("GET", "/mailings/{id}/statistics/"): ("GET", "/api/v1/mailings/{id}/stats/"),
    ("GET", "/deliveries/{id}/get_detail_statistic/"): ("GET", "/api/v1/mailings/{id}/stats/"),
    ("GET", "/deliveries/get_general_statistic"): ("GET", "/api/v1/mailings/stats/"),
    ("GET", "/activate_mailing/"): ("POST", "/api/v1/mailings/"),
}
ALLOWED |= {legacy: ALLOWED[successor] for legacy, successor in LEGACY.items()}


def with_head_and_options(allowed: dict[tuple[str, str], set[str]]) -> dict[tuple[str, str], set[str]]:
    """`allowed` plus HEAD wherever GET is (same callers) and OPTIONS on every path (the
    callers of any of its methods)."""
    derived = dict(allowed)
    for (method, path), callers in allowed.items():
        if method == "GET":
            derived[("HEAD", path)] = set(callers)
        derived[("OPTIONS", path)] = derived.get(("OPTIONS", path), set()) | callers
    return derived


EVERY_METHOD = with_head_and_options(ALLOWED)


def api_operations() -> set[tuple[str, str]]:
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return {(method.upper(), path) for path, operations in paths.items() for method in operations}


def test_every_operation_has_a_decision():
    operations = api_operations()

    assert operations - ALLOWED.keys() == set(), "new endpoints need a line in ALLOWED"
    assert ALLOWED.keys() - operations == set(), "ALLOWED names endpoints that no longer exist"


@pytest.fixture
def clients(db, django_user_model) -> dict[str, APIClient]:
    cache.clear()
    clients = {ANONYMOUS: APIClient()}
    for role in (LINE, SALES, MARKETING, MANAGER):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(username=f'm-{role}', role=role).key}")
        clients[role] = client
    signup = APIClient().post(
        "/api/v1/useradd/", {"name": "New", "username": "newcomer", "email": "newcomer@example.com"}, format="json"
    )
    assert signup.status_code == 201, signup.content
    token = APIClient().post("/api/v1/auth/token/", {"username": "newcomer", "password": signup.json()["password"]})
    clients[USERADD] = APIClient()
    clients[USERADD].credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    clients[ADMIN] = APIClient()
    clients[ADMIN].force_authenticate(django_user_model.objects.create_superuser("root", "root@example.com", None))
    return clients


def test_head_and_options_are_derived_for_every_path():
    paths = {path for _, path in ALLOWED}
    gets = {path for method, path in ALLOWED if method == "GET"}

    assert {path for method, path in EVERY_METHOD if method == "OPTIONS"} == paths
    assert {path for method, path in EVERY_METHOD if method == "HEAD"} == gets


@pytest.mark.parametrize(("method", "path"), sorted(EVERY_METHOD))
def test_each_caller_is_allowed_or_denied_as_the_table_says(clients, method, path):
    cache.clear()  # throttling history: each operation starts with a clean slate
    url = re.sub(r"\{code\}", "R2", re.sub(r"\{\w+\}", "999999", path))
    outcomes = {}
    for caller in CALLERS:
        if method == "HEAD":  # answers as GET does, without the body
            response = clients[caller].head(url)
            assert response.status_code == clients[caller].get(url).status_code, caller
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert body == b"", caller
        else:
            response = getattr(clients[caller], method.lower())(url, {}, format="json")
        assert response.status_code < 500, (caller, response.status_code, response.content[:300])
        outcomes[caller] = response.status_code not in (401, 403)

    assert {caller for caller, allowed in outcomes.items() if allowed} == EVERY_METHOD[(method, path)], outcomes
