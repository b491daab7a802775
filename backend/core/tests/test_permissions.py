"""Roles gate the API; a view that names no role is closed to all but superusers."""

import pytest
from rest_framework.test import APIClient
from rest_framework.views import APIView

from core.permissions import HasRole, roles_for_method

pytestmark = [pytest.mark.django_db, pytest.mark.urls("core.tests.idempotency_urls")]


def test_a_role_the_view_names_is_let_in_and_others_are_refused(client_for_role):
    allowed = client_for_role("sales").post("/schedules/", {"every": 3}, format="json")
    refused = client_for_role("production_line").post("/schedules/", {"every": 3}, format="json")
    anonymous = APIClient().post("/schedules/", {"every": 3}, format="json")

    assert allowed.status_code == 201
    assert refused.status_code == 403
    assert anonymous.status_code == 401


def test_a_view_without_roles_admits_only_superusers(rf, django_user_model, client_for_role):
    view = APIView()
    request = rf.get("/")
    request.method = "GET"
    request.user = client_for_role("manager").user
    assert HasRole().has_permission(request, view) is False

    request.user = django_user_model.objects.create_superuser("root", "root@r4c.example", None)
    assert HasRole().has_permission(request, view) is True


def test_head_follows_get_and_options_follows_any_method():
    roles = {"GET": ("manager",), "POST": ("sales",), "DELETE": ("marketing",)}

    assert set(roles_for_method(roles, "HEAD")) == {"manager"}
    assert set(roles_for_method(roles, "OPTIONS")) == {"manager", "sales", "marketing"}
    assert set(roles_for_method(roles, "PUT")) == set()
    assert set(roles_for_method({"POST": ("sales",)}, "HEAD")) == set()  # no GET, no HEAD
    assert set(roles_for_method(("sales",), "HEAD")) == {"sales"}
