"""Role-based access: a view names the roles (Django groups) that may use it."""

from rest_framework.permissions import BasePermission


class HasRole(BasePermission):
    """Allows superusers, and users in one of the view's `roles`.

    A view declares `roles = ("sales", ...)` for every method, or a mapping
    `roles = {"GET": (...), "POST": (...)}`. A view that declares nothing is closed to
    everyone but superusers, so a forgotten declaration fails safe.
    """

    message = "Your account has no role that allows this operation."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        roles = getattr(view, "roles", ())
        if isinstance(roles, dict):
            roles = roles.get(request.method, ())
        if not roles:
            return False
        return user_has_role(user, roles)


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
