"""Customer writes."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Value
from django.db.models.functions import Lower

from core.constraints import constraint_violation
from core.exceptions import Conflict
from core.guards import smtp_address_problem
from core.phones import phone_normalize
from customers.models import Customer
from customers.timezones import timezone_normalize

_UNSET = object()


def _same_email(email: str):
    """Customers whose e-mail equals `email` as the unique index compares them: PostgreSQL's
    lower() on both sides (Python's lower() and SQL's UPPER() differ from it on some letters)."""
    return Customer.objects.alias(email_key=Lower("email")).filter(email_key=Lower(Value(email)))


def customer_get_or_create_by_email(*, email: str) -> Customer:
    """The customer with this e-mail (case-insensitive), created if new; safe under concurrency."""
    email = email.strip()
    existing = _same_email(email).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            customer = Customer(email=email)
            customer.full_clean()
            customer.save()
            return customer
    except IntegrityError:  # a concurrent request created it first
        return _same_email(email).get()


def _phone(value: str | None, errors: dict[str, list]) -> str | None:
    """The stored form of a customer's phone (core.phones), None for none; a refused phone
    goes into `errors` (and counts as none)."""
    if value is None or not value.strip():
        return None
    try:
        return phone_normalize(value)
    except ValidationError as exc:
        errors["phone_number"] = exc.error_list
        return None


def _email(value: str | None, errors: dict[str, list]) -> str | None:
    """A customer's e-mail as stored, None for none; one a mail server would refuse (RFC 5321
    limits) goes into `errors`. Django's own validator runs in full_clean."""
    email = (value or "").strip() or None
    if email is not None:
        problem = smtp_address_problem(email)
        if problem:
            errors["email"] = [ValidationError(problem, code="invalid_email")]
    return email


def _timezone(value: str, errors: dict[str, list]) -> str | None:
    try:
        return timezone_normalize(value)
    except ValidationError as exc:
        errors["timezone"] = exc.error_list
        return None


def _operator_code_of(phone: str | None) -> str:
    return phone[1:4] if phone else ""


def _check_unique(customer: Customer) -> None:
    """Duplicates are a 409 naming the field, found before the database would refuse them."""
    others = Customer.objects.exclude(pk=customer.pk)
    fields = {}
    if customer.email and _same_email(customer.email).exclude(pk=customer.pk).exists():
        fields["email"] = ["A customer with this e-mail already exists."]
    if customer.phone_number and others.filter(phone_number=customer.phone_number).exists():
        fields["phone_number"] = ["A customer with this phone number already exists."]
    if fields:
        raise Conflict("A customer with these details already exists.", code="duplicate", fields=fields)


def _check(customer: Customer, errors: dict[str, list]) -> None:
    """Raises ValidationError naming every refused field of an unsaved customer (with the
    problems its input already had); uniqueness is not checked here."""
    if customer.email is None and customer.phone_number is None and "phone_number" not in errors:
        errors["non_field_errors"] = [ValidationError("Give at least one of email and phone_number.")]
    try:
        customer.full_clean(validate_unique=False, validate_constraints=False, exclude=list(errors))
    except ValidationError as exc:
        errors = {**exc.error_dict, **errors}
    if errors:
        raise ValidationError(errors)


def _save(customer: Customer, errors: dict[str, list]) -> Customer:
    """Checks the customer (every problem at once, with those its input already had), then saves it."""
    _check(customer, errors)
    return _store(customer)


def _store(customer: Customer) -> Customer:
    """Saves a checked customer; an e-mail or phone in use is a Conflict naming the field."""
    _check_unique(customer)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:
        violation = constraint_violation(exc)
        if violation.code != "duplicate":
            raise  # not a race: the exception handler names the field (core.exceptions)
        # A concurrent request took the e-mail or phone first.
        raise Conflict(
            "A customer with these details already exists.",
            code="duplicate",
            fields={violation.field: ["A customer with this value already exists."]},
        ) from exc
    return customer


def customer_build(
    *,
    email: str | None = None,
    phone_number: str | None = None,
    operator_code: str | None = None,
    tag: str = "",
    timezone: str | None = None,
) -> Customer:
    """An unsaved customer from the values a client wrote, checked by every rule of the
    directory but uniqueness: the one validator of the API and of file imports. The phone is
    normalised (7XXXXXXXXXX), the operator code defaults to digits 2-4 of the phone, the time
    zone to TIME_ZONE. Raises ValidationError naming every refused field."""
    errors: dict[str, list] = {}
    customer = Customer(
        email=_email(email, errors),
        phone_number=_phone(phone_number, errors),
        tag=(tag or "").strip(),
    )
    customer.operator_code = operator_code if operator_code else _operator_code_of(customer.phone_number)
    if timezone is not None:
        customer.timezone = _timezone(timezone, errors) or customer.timezone
    _check(customer, errors)
    return customer


def customer_create(
    *,
    email: str | None = None,
    phone_number: str | None = None,
    operator_code: str | None = None,
    tag: str = "",
    timezone: str | None = None,
) -> Customer:
    """A new customer (see customer_build for the rules). Raises ValidationError naming every
    refused field, Conflict for an e-mail or phone in use."""
    customer = customer_build(
        email=email, phone_number=phone_number, operator_code=operator_code, tag=tag, timezone=timezone
    )
    return _store(customer)


def customer_update(
    *,
    customer: Customer,
    email=_UNSET,
    phone_number=_UNSET,
    operator_code=_UNSET,
    tag=_UNSET,
    timezone=_UNSET,
) -> Customer:
    """Changes the given fields. A new phone brings its operator code along, unless the code
    was set by hand (differs from the old phone's) or is given in the same update."""
    errors: dict[str, list] = {}
    if email is not _UNSET:
        customer.email = _email(email, errors)
    if phone_number is not _UNSET:
        old_default = _operator_code_of(customer.phone_number)
        customer.phone_number = _phone(phone_number, errors)
        if operator_code is _UNSET and customer.operator_code in ("", old_default):
            customer.operator_code = _operator_code_of(customer.phone_number)
    if operator_code is not _UNSET:
        customer.operator_code = operator_code or _operator_code_of(customer.phone_number)
    if tag is not _UNSET:
        customer.tag = (tag or "").strip()
    if timezone is not _UNSET:
        customer.timezone = _timezone(timezone, errors) or customer.timezone
    return _save(customer, errors)


def customer_delete(*, customer: Customer) -> None:
    """Deletes a customer; one that other records still need (orders) is a 409."""
    try:
        with transaction.atomic():
            customer.delete()
    except ProtectedError as exc:
        raise Conflict("This customer has orders and cannot be deleted.", code="customer_in_use") from exc
