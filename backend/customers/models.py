"""The customer directory: who orders robots and who receives mailings."""

from django.db import models
from django.db.models.functions import Lower


class Customer(models.Model):
    """A customer, known by e-mail (orders) and/or phone (mailings)."""

    email = models.EmailField(max_length=254, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_case_insensitive"),
        ]

    def __str__(self) -> str:
        return self.email or f"customer #{self.pk}"
