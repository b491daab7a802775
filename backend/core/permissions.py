"""Role-based access: a view names the roles (Django groups) that may use it."""

from rest_framework.permissions import BasePermission


class HasRole(BasePermission):
    """Allows superusers, and users in one of the view's `roles`.

    A view declares `roles = (Role.SALES, ...)` (core.roles) for every method, or a mapping
    `roles = {"GET": (...), "POST": (...)}`. A view that declares nothing is closed to
    everyone but superusers, so a forgotten declaration fails safe.

    HEAD is allowed to whoever may GET, and OPTIONS to whoever may use any method of the
    view (DESIGN.md §4), so a mapping never has to list them: HEAD is a GET without its
    body (RFC 9110 §9.3.2), and OPTIONS describes what the caller may do there.
    """

    message = "Your account has no role that allows this operation."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        roles = roles_for_method(getattr(view, "roles", ()), request.method)
        if not roles:
            return False
        return user_has_role(user, roles)


def roles_for_method(roles, method: str) -> tuple[str, ...]:
    """The roles allowed `method` (an upper-case HTTP method) by a view's `roles` declaration:
    a tuple for every method, or a mapping of method to tuple (see HasRole)."""
    if not isinstance(roles, dict):
        return tuple(roles)
    if method == "OPTIONS":
        return tuple({role for allowed in roles.values() for role in allowed})
    allowed = set(roles.get(method, ()))
    if method == "HEAD":
        allowed.update(roles.get("GET", ()))
    return tuple(allowed)


class IsAuthenticatedAnyRole(BasePermission):
    """Any signed-in account, with or without a role (for the caller's own profile)."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)


ROLES_CACHE_ATTRIBUTE = "_r4c_roles"


def user_has_role(user, roles) -> bool:
    # Cached on the user object for the request (token authentication fills it in while it
    # loads the user), so role checks cost at most one query per request.
    if not hasattr(user, ROLES_CACHE_ATTRIBUTE):
        setattr(user, ROLES_CACHE_ATTRIBUTE, frozenset(user.groups.values_list("name", flat=True)))
    return bool(getattr(user, ROLES_CACHE_ATTRIBUTE).intersection(roles))
