"""The roles (core.roles.Role) as Django groups, and the model permissions each one holds.

The API checks a role by group membership (core.permissions.HasRole); the permissions
below are what the admin site lets each role see and change.
"""

from core.roles import Role

CUSTOMER_PERMISSIONS = [f"customers.{action}_customer" for action in ("view", "add", "change", "delete")]

# "app_label.codename" for each role; a permission of a model that does not exist yet is
# skipped, and given as soon as a later migration creates the model.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.PRODUCTION_LINE: ["robots.view_robotmodel", "robots.view_robotversion", "robots.add_robot"],
    Role.SALES: ["orders.view_order", "orders.add_order", "orders.change_order", *CUSTOMER_PERMISSIONS],
    Role.MARKETING: [
        *CUSTOMER_PERMISSIONS,
        *(f"mailings.{action}_mailing" for action in ("view", "add", "change", "delete")),
        "mailings.view_message",
    ],
    Role.MANAGER: [
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        *(
            f"robots.{action}_{model}"
            for action in ("view", "add", "change")
            for model in ("robotmodel", "robotversion")
        ),
        "robots.view_robot",
        "orders.view_order",
        "notifications.view_email",
        "customers.view_customer",
        "mailings.view_mailing",
        "mailings.view_message",
        "reports.view_report",
        "reports.add_report",
    ],
}


def sync_role_permissions(**kwargs) -> None:
    """Creates the role groups and gives each exactly its permissions (post_migrate)."""
    from django.contrib.auth.models import Group, Permission

    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)
