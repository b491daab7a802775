"""Every page (everything outside the API) answers every method without a 500, for every kind
of visitor; HEAD and OPTIONS are allowed wherever GET is (DESIGN.md §4)."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


def page_paths() -> list[str]:
    """Every route of the site that is not under /api/v1/ nor inside the admin (its login page counts)."""
    paths = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route not in ("api/v1/", "admin/"):
                    walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and "<" not in route:
                paths.append("/" + route.lstrip("^").rstrip("$"))

    walk(get_resolver().url_patterns)
    return sorted({*paths, "/admin/", "/admin/login/"})


def test_the_pages_checked_are_the_site_s_pages():
    assert {
        "/docs/",
        "/redoc/",
        "/api/schema/",
        "/login/",
        "/logout/",
        "/stats/",
        "/stats/export.txt",
        "/dashboard/",
    } <= set(page_paths())
    assert {"/health/live", "/health/ready", "/metrics", "/admin/login/"} <= set(page_paths())


@pytest.fixture
def visitors(django_user_model) -> dict[str, Client]:
    plain = django_user_model.objects.create_user(username="plain", password=None)
    staff = django_user_model.objects.create_superuser("staff", "staff@example.com", None)
    visitors = {"anonymous": Client(raise_request_exception=False)}
    for name, user in (("signed in", plain), ("staff", staff)):
        visitors[name] = Client(raise_request_exception=False)
        visitors[name].force_login(user)
    return visitors


@pytest.mark.django_db
@pytest.mark.parametrize("path", page_paths())
def test_every_page_answers_every_method_without_a_500(path, visitors):
    for name, client in visitors.items():
        answers = {}
        for method in METHODS:
            if (path, method) == ("/logout/", "POST"):
                continue  # would sign the next requests out
            answers[method] = client.generic(method, path).status_code
            assert answers[method] < 500, (name, method, path, answers)
        if answers["GET"] < 400:  # HEAD is allowed wherever GET is
            assert answers["HEAD"] < 400, (name, path, answers)
        if answers["GET"] == 200:
            assert answers["OPTIONS"] == 200, (name, path, answers)
