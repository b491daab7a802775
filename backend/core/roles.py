"""The roles of DESIGN.md §4: one enum, used by every view's `roles` (core.permissions.HasRole).

A role is a Django group of the same name; accounts creates the groups and gives each the
admin permissions it needs (accounts.roles).
"""

from django.db.models import TextChoices


class Role(TextChoices):
    PRODUCTION_LINE = "production_line", "Production line"
    SALES = "sales", "Sales"
    MARKETING = "marketing", "Marketing"
    MANAGER = "manager", "Manager"
