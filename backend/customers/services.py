"""Customer writes: the directory (one validator, customer_build) and its import from files."""

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, Value
from django.db.models.functions import Lower
from django.utils import timezone

from core import jobs
from core.constraints import constraint_violation
from core.exceptions import ApplicationError, Conflict
from core.guards import forbidden_character, forbidden_character_message, smtp_address_problem
from core.phones import phone_normalize
from core.queue import enqueue_on_commit
from customers.import_files import ImportFileError, Row, file_format_detect, import_file_rows, import_file_size_rows
from customers.models import Customer, CustomerImport, CustomerImportKey
from customers.tasks import customer_import_run_task
from customers.timezones import timezone_normalize

logger = logging.getLogger(__name__)

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


def customer_create(**values: str | None) -> Customer:
    """A new customer from customer_build's keyword values (its rules). Raises ValidationError
    naming every refused field, Conflict for an e-mail or phone in use."""
    return _store(customer_build(**values))


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


# --- file imports (DESIGN.md §4: POST /api/v1/customers/import/) ------------------------
# Only the first rows' problems are kept on the import (the count covers all of them).
IMPORT_ERRORS_KEPT = 1000
IMPORT_RETRY_BASE = 30
IMPORT_RETRY_MAX_DELAY = 600
IMPORT_SWEEP_LIMIT = 100
# A cell starting with "=" is a spreadsheet formula (CSV injection when exported again): refused.
FORMULA_PREFIX = "="
CUSTOMER_FIELDS = ("email", "phone_number", "operator_code", "tag", "timezone")


def imports_path(customer_import: CustomerImport) -> Path:
    return Path(settings.IMPORTS_DIR) / customer_import.file_path


def _too_large(detail: str) -> ApplicationError:
    return ApplicationError(detail, code="request_too_large", status_code=413, fields={"file": [detail]})


def customer_import_create(*, upload: UploadedFile, requested_by=None) -> CustomerImport:
    """Stores an uploaded CSV or XLSX under IMPORTS_DIR, checks it as a whole and records the
    import (pending), whose task is enqueued after the commit.

    Raises ApplicationError naming the field `file`: 413 for a file over MAX_IMPORT_BYTES or
    with more than MAX_IMPORT_ROWS data rows; 400 for a file that is not CSV (UTF-8) or XLSX,
    or whose first row is not a header of known columns. Rows are checked by the import.
    """
    if upload.size > settings.MAX_IMPORT_BYTES:
        raise _too_large(f"The file is {upload.size} bytes; MAX_IMPORT_BYTES allows {settings.MAX_IMPORT_BYTES}.")
    directory = Path(settings.IMPORTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    temporary = directory / f"{name}.part"
    try:
        with open(temporary, "wb") as handle:
            for chunk in upload.chunks():  # Django spooled a large upload to disk: chunks, not the whole
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            file_format = file_format_detect(temporary)
            rows = import_file_size_rows(temporary, file_format, limit=settings.MAX_IMPORT_ROWS)
        except ImportFileError as exc:
            raise ApplicationError(
                "The file was refused; see `fields`.", code="invalid_file", fields={"file": [str(exc)]}
            ) from None
        if rows > settings.MAX_IMPORT_ROWS:
            raise _too_large(f"The file holds more than MAX_IMPORT_ROWS = {settings.MAX_IMPORT_ROWS} data rows.")
        final = f"{name}.{file_format}"
        os.replace(temporary, directory / final)
    finally:
        temporary.unlink(missing_ok=True)
    customer_import = CustomerImport.objects.create(
        file_name=(upload.name or "")[:255],
        file_path=final,
        file_format=file_format,
        size=upload.size,
        requested_by=requested_by,
        total=rows,
    )
    enqueue_on_commit(customer_import_run_task, customer_import.pk)
    logger.info(
        "customer import %s: %s (%s, %s bytes, %s rows) queued",
        customer_import.pk,
        final,
        file_format,
        upload.size,
        rows,
    )
    return customer_import


def customer_import_retry_policy() -> jobs.RetryPolicy:
    return jobs.RetryPolicy(
        max_attempts=settings.IMPORT_MAX_ATTEMPTS,
        base=IMPORT_RETRY_BASE,
        cap=IMPORT_RETRY_MAX_DELAY,
        sweep_grace=settings.IMPORT_SWEEP_GRACE,
    )


def customer_import_run(*, import_id: int) -> float | None:
    """Imports one pending (or abandoned running) import, batch by batch, from where its last
    committed batch ended; returns the seconds until a retry, if one is due (core.jobs)."""
    return jobs.job_run_in_steps(
        CustomerImport,
        job_id=import_id,
        policy=customer_import_retry_policy(),
        lease_seconds=settings.IMPORT_LEASE_SECONDS,
        steps=_import_steps,
        finish=_import_finish,
        on_final_failure=_import_failed,
    )


def customer_import_retry(*, customer_import: CustomerImport) -> bool:
    """An admin gives a failed import a fresh set of attempts; it goes on after its last batch."""
    return jobs.job_retry(
        CustomerImport, job_id=customer_import.pk, task=customer_import_run_task, reset={"finished_at": None}
    )


def customer_imports_sweep(*, grace_seconds: float | None = None) -> int:
    """Re-enqueues imports whose wake-up was lost or whose worker died (its lease ran out more
    than IMPORT_SWEEP_GRACE ago); returns how many."""
    grace = customer_import_retry_policy().sweep_grace if grace_seconds is None else grace_seconds
    return len(
        jobs.jobs_sweep(
            CustomerImport,
            grace_seconds=grace,
            enqueue=customer_import_run_task.delay,
            limit=IMPORT_SWEEP_LIMIT,
            statuses=(jobs.PENDING, jobs.RUNNING),
        )
    )


class _RowErrors:
    """The problems of a batch's rows: (row, field, reason), and which rows failed."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.rows: set[int] = set()

    def add(self, row: int, field: str, reason: str) -> None:
        self.items.append({"row": row, "field": field, "reason": reason})
        self.rows.add(row)


def _import_steps(customer_import: CustomerImport) -> Iterator[Callable[[CustomerImport], list[str]]]:
    """One step per batch of rows after the `processed` ones. The next batch is read and
    validated in a thread while this one is written: validation is pure Python and the
    writes mostly wait for PostgreSQL, so the two overlap instead of taking turns (bench
    `customer_import`: most of a row's cost is its validation)."""
    batches = _batches(customer_import)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"import-{customer_import.pk}") as reader:
            ahead = reader.submit(next, batches, None)
            while (batch := ahead.result()) is not None:
                ahead = reader.submit(next, batches, None)
                yield partial(_import_batch, batch=batch)
    finally:  # the reader has stopped (the pool waited for it): the file can be closed here
        batches.close()


@dataclass
class _Batch:
    """A batch of rows as read, the rows the customers API would accept as unsaved
    customers, and the problems of the others."""

    rows: list[Row]
    valid: list[tuple[Row, Customer]]
    errors: _RowErrors


def _batches(customer_import: CustomerImport) -> Iterator[_Batch]:
    """The rows after the `processed` ones, IMPORT_BATCH_SIZE at a time, read lazily from
    the file and validated. Raises PermanentJobError for a file that is gone, unreadable or
    longer than MAX_IMPORT_ROWS."""
    path = imports_path(customer_import)
    if not customer_import.file_path or not path.is_file():
        raise jobs.PermanentJobError(f"The uploaded file {customer_import.file_path!r} is gone from IMPORTS_DIR.")
    limit = settings.MAX_IMPORT_ROWS
    read = customer_import.processed
    rows = import_file_rows(path, customer_import.file_format)
    try:
        batch: list[Row] = []
        for row in islice(rows, customer_import.processed, None):
            read += 1
            if read > limit:
                raise jobs.PermanentJobError(f"The file holds more than MAX_IMPORT_ROWS = {limit} data rows.")
            batch.append(row)
            if len(batch) >= settings.IMPORT_BATCH_SIZE:
                yield _batch_validated(batch)
                batch = []
        if batch:
            yield _batch_validated(batch)
    except ImportFileError as exc:
        raise jobs.PermanentJobError(str(exc)) from None
    finally:
        rows.close()


def _batch_validated(rows: list[Row]) -> _Batch:
    errors = _RowErrors()
    return _Batch(rows=rows, valid=_validated(rows, errors), errors=errors)


def _import_finish(customer_import: CustomerImport) -> list[str]:
    path = imports_path(customer_import)
    customer_import.total = customer_import.processed
    customer_import.finished_at = timezone.now()
    customer_import.file_path = ""
    # Once the import is recorded done, the file is of no more use (a failed one keeps it for a retry).
    transaction.on_commit(lambda: path.unlink(missing_ok=True))
    logger.info(
        "customer import %s done: %s rows, %s created, %s updated, %s unchanged, %s failed",
        customer_import.pk,
        customer_import.processed,
        customer_import.created,
        customer_import.updated,
        customer_import.unchanged,
        customer_import.failed,
    )
    return ["total", "finished_at", "file_path"]


def _import_failed(customer_import: CustomerImport) -> list[str]:
    customer_import.finished_at = timezone.now()
    return ["finished_at"]


def _row_problems(row: Row, errors: _RowErrors) -> bool:
    """Records what the file itself got wrong in a row (values beyond the header's columns,
    formulas, control characters); True when there was something."""
    found = False
    if row.extra_cells:
        errors.add(row.number, "non_field_errors", f"{row.extra_cells} cell(s) lie beyond the header's columns.")
        found = True
    for field, value in row.values.items():
        if value.startswith(FORMULA_PREFIX):
            errors.add(row.number, field, "Formulas are not accepted; give the value itself.")
            found = True
            continue
        character = forbidden_character(value)
        if character is not None:
            errors.add(row.number, field, forbidden_character_message(character))
            found = True
    return found


def _validated(rows: list[Row], errors: _RowErrors) -> list[tuple[Row, Customer]]:
    """The rows the customers API would accept, as unsaved customers (customer_build)."""
    valid = []
    for row in rows:
        if _row_problems(row, errors):
            continue
        values = row.values
        try:
            customer = customer_build(
                email=values.get("email") or None,
                phone_number=values.get("phone_number") or None,
                operator_code=values.get("operator_code") or None,
                tag=values.get("tag", ""),
                timezone=values.get("timezone") or None,
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    errors.add(row.number, field, message)
            continue
        valid.append((row, customer))
    return valid


# A batch's keys go to PostgreSQL as one text parameter split there: psycopg quotes a list
# parameter element by element in Python (7 ms for a batch's 1,750 keys, against 1 ms).
ARRAY_PARAMETER = "string_to_array(%s, E'\\n')"


def _array_parameter(values: Iterable[str]) -> str:
    """`values` as the one parameter of ARRAY_PARAMETER (a text[] there). Raises ValueError
    for a value holding a line break (an imported row never does: control characters are
    refused before) and for a lone empty value (it would come back as no value)."""
    values = list(values)
    joined = "\n".join(values)
    if joined.count("\n") != max(len(values) - 1, 0) or values == [""]:
        raise ValueError("A value of an array parameter holds a line break or is empty.")
    return joined


def _email_keys(emails: list[str]) -> dict[str, str]:
    """Each e-mail's key as the unique index compares them: PostgreSQL's lower()."""
    if not emails:
        return {}
    with connection.cursor() as cursor:
        sql = f"SELECT e, lower(e) FROM unnest({ARRAY_PARAMETER}) AS e"  # noqa: S608 (constants only)
        cursor.execute(sql, [_array_parameter(emails)])
        return dict(cursor.fetchall())


def _keys_of(customer: Customer, email_keys: dict[str, str]) -> list[tuple[str, str]]:
    keys = []
    if customer.phone_number:
        keys.append(("phone_number", f"phone:{customer.phone_number}"))
    if customer.email:
        keys.append(("email", f"email:{email_keys[customer.email]}"))
    return keys


def _first_in_file(
    customer_import: CustomerImport,
    valid: list[tuple[Row, Customer]],
    email_keys: dict[str, str],
    errors: _RowErrors,
) -> list[tuple[Row, Customer]]:
    """The rows whose phone and e-mail no earlier row of the file used: a later row with the
    same phone or e-mail is refused, naming the first (so importing a file twice gives the
    same result). The keys are kept per import in PostgreSQL, committed with the batch."""
    first: dict[str, int] = {}
    kept = []
    for row, customer in valid:
        duplicate = [(field, first[key]) for field, key in _keys_of(customer, email_keys) if key in first]
        for field, earlier in duplicate:
            errors.add(row.number, field, f"Row {earlier} of this file has the same {field}; the first one counts.")
        if duplicate:
            continue
        for _field, key in _keys_of(customer, email_keys):
            first[key] = row.number
        kept.append((row, customer))
    if not first:
        return kept
    # Names from the model, every value a parameter.
    quote = connection.ops.quote_name
    meta = CustomerImportKey._meta
    import_column, key_column, row_column = (
        quote(meta.get_field(name).column) for name in ("customer_import", "key", "row")
    )
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({import_column}, {key_column}, {row_column}) "  # noqa: S608
        f"SELECT %s, k, r::int FROM unnest({ARRAY_PARAMETER}, {ARRAY_PARAMETER}) AS t(k, r) "
        f"ON CONFLICT ({import_column}, {key_column}) DO NOTHING RETURNING {key_column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer_import.pk, _array_parameter(first), _array_parameter(map(str, first.values()))])
        new = {key for (key,) in cursor.fetchall()}
    earlier_rows = dict(
        CustomerImportKey.objects.filter(customer_import=customer_import, key__in=set(first) - new).values_list(
            "key", "row"
        )
    )
    if not earlier_rows:
        return kept
    unique = []
    for row, customer in kept:
        duplicate = [(field, earlier_rows[key]) for field, key in _keys_of(customer, email_keys) if key in earlier_rows]
        for field, earlier in duplicate:
            errors.add(row.number, field, f"Row {earlier} of this file has the same {field}; the first one counts.")
        if not duplicate:
            unique.append((row, customer))
    return unique


def _stored_matching(phones: list[str], email_keys: list[str]) -> list[Customer]:
    """The stored customers with one of these phones or e-mails (keys: lower(email)), locked
    in the order of their ids, each annotated with its `email_key`.

    One index probe per key: a LATERAL sub-select with LIMIT 1 per key (both columns are
    unique, so it changes no answer) cannot be turned into a join. Written as one OR of two
    IN lists, PostgreSQL's default costs scan the whole table for a batch's 1,750 keys
    once it holds ~100,000 customers (20-80 ms a batch, growing with the table). The probes
    only find the ids; the rows are then locked by id (one more probe each, in id order),
    in one order whatever the file's, so two imports (or an import and the API) touching the
    same customers wait for each other instead of deadlocking."""
    quote = connection.ops.quote_name
    meta = Customer._meta
    table = quote(meta.db_table)
    pk = quote(meta.pk.column)
    columns = ", ".join(f"found.{quote(field.column)}" for field in meta.concrete_fields)
    phone, email = (quote(meta.get_field(name).column) for name in ("phone_number", "email"))
    sql = (
        f"SELECT {columns}, lower(found.{email}) AS email_key FROM ("  # noqa: S608 (names from the model)
        f"SELECT matched.{pk} FROM unnest({ARRAY_PARAMETER}) AS wanted(phone) CROSS JOIN LATERAL "
        f"(SELECT {pk} FROM {table} WHERE {phone} = wanted.phone LIMIT 1) AS matched "
        "UNION "
        f"SELECT matched.{pk} FROM unnest({ARRAY_PARAMETER}) AS wanted(email_key) CROSS JOIN LATERAL "
        f"(SELECT {pk} FROM {table} WHERE lower({email}) = wanted.email_key LIMIT 1) AS matched "
        f"ORDER BY 1) AS ids CROSS JOIN LATERAL "
        f"(SELECT * FROM {table} WHERE {pk} = ids.{pk} LIMIT 1 FOR UPDATE) AS found"
    )
    return list(Customer.objects.raw(sql, [_array_parameter(phones), _array_parameter(email_keys)]))


def _merged(stored: Customer, row: Row, built: Customer) -> bool:
    """Puts the row's non-empty cells onto the stored customer (an empty cell keeps the stored
    value); True when a value actually changed."""
    given = {field for field in CUSTOMER_FIELDS if row.values.get(field)}
    before = [getattr(stored, field) for field in CUSTOMER_FIELDS]
    old_default = _operator_code_of(stored.phone_number)
    for field in given:
        setattr(stored, field, getattr(built, field))
    if "operator_code" not in given and "phone_number" in given and stored.operator_code in ("", old_default):
        stored.operator_code = _operator_code_of(stored.phone_number)  # as customer_update does
    return [getattr(stored, field) for field in CUSTOMER_FIELDS] != before


def _import_batch(customer_import: CustomerImport, *, batch: _Batch) -> list[str]:
    """Matches and writes one validated batch: customers found by phone, then by e-mail, are
    updated where a value changed, the others created, in a few set-based statements.
    Records the batch's counts and row errors on the (locked) import; returns its fields."""
    rows, valid, errors = batch.rows, batch.valid, batch.errors
    email_keys = _email_keys([customer.email for _row, customer in valid if customer.email])
    valid = _first_in_file(customer_import, valid, email_keys, errors)
    phones = [customer.phone_number for _row, customer in valid if customer.phone_number]
    existing = _stored_matching(phones, list(email_keys.values()))
    by_phone = {customer.phone_number: customer for customer in existing if customer.phone_number}
    by_email = {customer.email_key: customer for customer in existing if customer.email}
    now = timezone.now()
    creates: list[tuple[Row, Customer]] = []
    updates: list[tuple[Row, Customer]] = []
    targeted: dict[int, int] = {}
    unchanged = 0
    for row, built in valid:
        key = email_keys.get(built.email) if built.email else None
        by_this_phone = by_phone.get(built.phone_number) if built.phone_number else None
        by_this_email = by_email.get(key) if key else None
        stored = by_this_phone or by_this_email
        if by_this_phone and by_this_email and by_this_phone.pk != by_this_email.pk:
            errors.add(row.number, "email", "Another customer (with another phone number) has this e-mail.")
            continue
        if stored is None:
            built.created_at = built.updated_at = now
            creates.append((row, built))
            continue
        if stored.phone_number and built.phone_number and stored.phone_number != built.phone_number:
            errors.add(row.number, "email", "A customer with another phone number has this e-mail.")
            continue
        if stored.pk in targeted:
            earlier = targeted[stored.pk]
            errors.add(row.number, "non_field_errors", f"Row {earlier} of this file names the same customer.")
            continue
        targeted[stored.pk] = row.number
        if _merged(stored, row, built):
            stored.updated_at = now
            updates.append((row, stored))
        else:
            unchanged += 1
    created, updated = _customers_write(creates, updates, errors)
    customer_import.processed += len(rows)
    customer_import.created += created
    customer_import.updated += updated
    customer_import.unchanged += unchanged
    customer_import.failed += len(errors.rows)
    room = IMPORT_ERRORS_KEPT - len(customer_import.errors)
    if errors.items and room > 0:
        customer_import.errors = [*customer_import.errors, *errors.items[:room]]
    if len(errors.items) > max(room, 0):
        customer_import.errors_truncated = True
    return ["processed", "created", "updated", "unchanged", "failed", "errors", "errors_truncated"]


def _customers_write(
    creates: list[tuple[Row, Customer]], updates: list[tuple[Row, Customer]], errors: _RowErrors
) -> tuple[int, int]:
    """Writes a batch's new and changed customers in two statements; when the database refuses
    one of them (a concurrent write took an e-mail, two rows swapped one), row by row in
    savepoints instead, so only the refused rows fail. Returns (created, updated)."""
    fields = [*CUSTOMER_FIELDS, "updated_at"]
    # New customers go in in phone order (then e-mail order) whatever the file's: two imports
    # (or an import and the API) adding the same phones or e-mails then wait for each other's
    # first one instead of each holding one the other waits for (a deadlock failed the attempt).
    creates = sorted(
        creates,
        key=lambda pair: (pair[1].phone_number is None, pair[1].phone_number or "", (pair[1].email or "").lower()),
    )
    try:
        with transaction.atomic():
            if creates:
                # ON CONFLICT on the phone: a customer the API added since the lookup is updated, not a failure.
                Customer.objects.bulk_create(
                    [customer for _row, customer in creates],
                    update_conflicts=True,
                    unique_fields=["phone_number"],
                    update_fields=[field for field in fields if field != "phone_number"],
                )
            if updates:
                Customer.objects.bulk_update([customer for _row, customer in updates], fields)
        return len(creates), len(updates)
    except IntegrityError:
        pass
    written = {"created": 0, "updated": 0}
    for kind, pairs in (("created", creates), ("updated", updates)):
        for row, customer in pairs:
            try:
                with transaction.atomic():
                    if kind == "created":
                        customer.pk = None
                        customer.save(force_insert=True)
                    else:
                        customer.save(update_fields=fields)
            except IntegrityError as exc:
                violation = constraint_violation(exc)
                errors.add(row.number, violation.field or "non_field_errors", "Another customer has this value.")
                continue
            written[kind] += 1
    return written["created"], written["updated"]
