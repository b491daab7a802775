"""Accounts: the user model (people and machines)."""

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower

from core.phones import PHONE_FORMAT, PHONE_PATTERN


class UserManager(DjangoUserManager):
    def get_by_natural_key(self, username):
        # Logins are unique in any case (accounts_user_username_ci_unique), so "ANN" signs in
        # as "ann"; comparing PostgreSQL's lower() to lower() uses that index, and agrees with it.
        return self.alias(login=Lower("username")).get(login=Lower(Value(str(username))))


class User(AbstractUser):
    """An account: staff, an integrator, or a machine (a production line's token)."""

    first_name = None
    last_name = None
    name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=11, blank=True, help_text=PHONE_FORMAT)
    birth_date = models.DateField(null=True, blank=True)

    REQUIRED_FIELDS = ["email"]

    objects = UserManager()

    class Meta:
        ordering = ["username"]
        constraints = [
            # "Ann" and "ann" are one login: people type logins in any case.
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="accounts_user_email_ci_unique"
            ),
            models.UniqueConstraint(fields=["phone"], condition=~models.Q(phone=""), name="accounts_user_phone_unique"),
            models.CheckConstraint(
                condition=models.Q(phone="") | models.Q(phone__regex=PHONE_PATTERN),
                name="accounts_user_phone_format",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.name or self.username

    def get_short_name(self) -> str:
        return self.name or self.username
