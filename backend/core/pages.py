"""What every server-rendered page (outside the API) shares: the methods it answers and who may read it."""

import functools

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core.permissions import user_has_role
from core.roles import Role


def readable_page(view):
    """GET and HEAD read the page; OPTIONS says so (DESIGN.md §4); anything else is a 405."""

    safe_view = require_safe(view)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            response = HttpResponse(b"", content_type="text/plain")
            response["Allow"] = "GET, HEAD, OPTIONS"
            return response
        return safe_view(request, *args, **kwargs)

    return wrapper


def role_page(*roles: Role):
    """A readable page (GET, HEAD, OPTIONS) for superusers and accounts with one of `roles`: anonymous
    visitors are sent to the login page (with `next`), other signed-in accounts get a 403 page
    that says which role is needed. Never cached: it shows what only those roles may see."""

    def decorate(view):
        page = readable_page(view)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not (user.is_superuser or user_has_role(user, roles)):
                context = {"roles": [Role(role).label for role in roles], "login_url": resolve_url(settings.LOGIN_URL)}
                return render(request, "core/forbidden.html", context, status=403)
            return page(request, *args, **kwargs)

        return never_cache(login_required(wrapper))

    return decorate
