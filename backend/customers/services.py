"""Customer writes."""

from django.db import IntegrityError, transaction

from customers.models import Customer


def customer_get_or_create_by_email(*, email: str) -> Customer:
    """The customer with this e-mail (case-insensitive), created if new; safe under concurrency."""
    email = email.strip()
    existing = Customer.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            customer = Customer(email=email)
            customer.full_clean()
            customer.save()
            return customer
    except IntegrityError:  # a concurrent request created it first
        return Customer.objects.get(email__iexact=email)
