"""Accounts: the user model (people and machines), from the very first migration."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """An account: staff, an integrator, or a machine (a production line's token)."""

    first_name = None
    last_name = None
    name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=11, blank=True, help_text="7XXXXXXXXXX")
    birth_date = models.DateField(null=True, blank=True)

    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.name or self.username

    def get_short_name(self) -> str:
        return self.name or self.username
