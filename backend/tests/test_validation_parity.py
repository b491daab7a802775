"""Validation parity: every constraint PostgreSQL holds on the platform's tables is checked first,
by the API for what it takes from input, by the code that writes the row for everything else.

The constraints and the lengths of text columns are read from PostgreSQL's catalog
(pg_constraint, pg_index, information_schema), so a constraint or a column added without an
entry below fails here. Each entry names the test that shows the check (a 400/409 naming the
field before the database would refuse), or says why no input reaches the column.
A constraint that still fires is answered in the one error shape (core.constraints), never a 500.
"""

import ast
from pathlib import Path

import pytest
from django.db import connection

from core.idempotency import MAX_KEY_LENGTH
from customers.apis import CustomerInputSerializer
from mailings.apis import MailingInputSerializer
from orders.apis import OrderListCreateApi
from registrations.apis import AccountRegisterApi
from robots.apis import RobotModelListApi, RobotVersionCreateApi

BACKEND_DIR = Path(__file__).resolve().parents[1]
APP_TABLES = r"^(accounts|registrations|robots|orders|customers|notifications|reports|mailings|core)_"


def internal(reason: str) -> str:
    """No input reaches these columns: `reason` says what writes them and why it keeps the rule."""
    return f"internal: {reason}"


USERADD_CONFLICT = "registrations/tests/test_useradd_api.py::test_a_taken_login_email_or_phone_is_a_conflict_naming_it"
CUSTOMER_CONFLICT = "customers/tests/test_apis.py::test_a_duplicate_phone_or_email_is_a_conflict"
MESSAGES = internal("mailings.dispatcher inserts and updates messages from mailings and customers")
ALLOCATION = internal("orders.services allocates under a per-serial advisory lock")
CATALOG_CONFLICT = "robots/tests/test_catalog_and_reads_api.py::test_duplicates_in_the_catalog_are_409s"
CUT_TO_COLUMN = internal("registrations.services.registration_request_cleaned cuts every text to its column")
PHONE_NORMALISER = "core/tests/test_phones.py::test_whatever_the_text_only_what_the_database_takes_comes_out"
REPORT_JOB = internal("reports.services builds and records reports; counts and sizes are never negative")
IMPORT_JOB = internal("customers.services records imports; counts and sizes only ever grow from 0")

# constraint (by name; foreign keys as "table.column -> table") -> the check that comes first
CHECKED_FIRST = {
    # accounts: useradd's accounts, roles
    "accounts_user_username_key": USERADD_CONFLICT,
    "accounts_user_username_ci_unique": USERADD_CONFLICT,
    "accounts_user_email_ci_unique": USERADD_CONFLICT,
    "accounts_user_phone_unique": USERADD_CONFLICT,
    "accounts_user_phone_format": PHONE_NORMALISER,
    # registrations: the registration request log (its table was accounts' until issue 14, and
    # PostgreSQL keeps the names its constraints had then)
    "accounts_registrationrequest_entry_id_key": (
        "registrations/tests/test_request_log.py::test_a_replay_writes_each_spooled_entry_once_even_if_its_file_is_seen_twice"
    ),
    "accounts_registrationrequest_status_code_check": (
        "registrations/tests/test_request_log.py::test_an_entry_the_database_refuses_even_cleaned_is_set_aside_and_counted"
    ),
    "registrations_registrationrequest.user_id -> accounts_user": (
        "registrations/tests/test_request_log.py::test_a_replayed_entry_whose_account_was_deleted_keeps_the_entry"
    ),
    "accounts_user_groups_user_id_group_id_59c0b32f_uniq": internal("roles are given with groups.add (idempotent)"),
    "accounts_user_groups.user_id -> accounts_user": internal("roles are given to existing accounts"),
    "accounts_user_groups.group_id -> auth_group": internal("role groups are created by migrations"),
    "accounts_user_user_permi_user_id_permission_id_2ab516c2_uniq": internal("the admin's permission widget"),
    "accounts_user_user_permissions.user_id -> accounts_user": internal("the admin's permission widget"),
    "accounts_user_user_permissions.permission_id -> auth_permission": internal("the admin's permission widget"),
    # core: idempotency keys
    "idempotency_key_unique_per_owner": (
        "core/tests/test_idempotency.py::test_32_concurrent_retries_with_one_key_create_exactly_one_row"
    ),
    "core_idempotencykey_response_status_check": internal("an HTTP status code"),
    "core_idempotencykey.owner_id -> accounts_user": internal("the authenticated caller"),
    # customers
    "customer_phone_number_unique": CUSTOMER_CONFLICT,
    "customer_email_unique_case_insensitive": CUSTOMER_CONFLICT,
    "customer_has_email_or_phone": "customers/tests/test_apis.py::test_a_customer_without_email_and_phone_is_refused",
    "customer_phone_is_7_and_10_digits": PHONE_NORMALISER,
    "customer_operator_code_is_3_digits": "tests/test_bad_input.py::test_non_ascii_digits_in_a_customer_are_a_400",
    # mailings
    "mailing_ends_after_start": "mailings/tests/test_apis.py::test_invalid_mailings_are_refused_field_by_field",
    "mailing_window_has_both_ends": "mailings/tests/test_apis.py::test_invalid_mailings_are_refused_field_by_field",
    "mailing_error_threshold_is_a_percentage": (
        "mailings/tests/test_apis.py::test_invalid_mailings_are_refused_field_by_field"
    ),
    "mailings_mailing_error_threshold_percent_check": (
        "mailings/tests/test_apis.py::test_invalid_mailings_are_refused_field_by_field"
    ),
    "message_once_per_mailing_and_customer": MESSAGES,
    "message_sent_has_sent_at": MESSAGES,
    "mailings_message_attempts_check": MESSAGES,
    "mailings_message.mailing_id -> mailings_mailing": MESSAGES,
    "mailings_message.customer_id -> customers_customer": MESSAGES,
    # notifications
    "notifications_email_dedup_key_key": internal("notifications.services.email_enqueue inserts once per key"),
    "notifications_email_attempts_check": internal("the outbox counts attempts up from 0"),
    # orders
    "order_has_a_robot_exactly_when_notified": ALLOCATION,
    "orders_order_robot_id_key": ALLOCATION,
    "orders_order.robot_id -> robots_robot": ALLOCATION,
    "orders_order.customer_id -> customers_customer": internal("found or created in the order's transaction"),
    # customer imports
    "customerimportkey_once_per_import": internal("customers.services inserts keys with ON CONFLICT DO NOTHING"),
    "customers_customerimport.requested_by_id -> accounts_user": internal("the authenticated caller"),
    "customers_customerimportkey.customer_import_id -> customers_customerimport": internal("the import running"),
    "customers_customerimport_attempts_check": IMPORT_JOB,
    "customers_customerimport_created_check": IMPORT_JOB,
    "customers_customerimport_failed_check": IMPORT_JOB,
    "customers_customerimport_processed_check": IMPORT_JOB,
    "customers_customerimport_size_check": IMPORT_JOB,
    "customers_customerimport_total_check": IMPORT_JOB,
    "customers_customerimport_unchanged_check": IMPORT_JOB,
    "customers_customerimport_updated_check": IMPORT_JOB,
    "customers_customerimportkey_row_check": internal("a row number of the file, from 2"),
    # reports
    "report_period_not_empty": "reports/tests/test_apis.py::test_a_bad_period_is_a_400_naming_the_field",
    "report_one_nightly_per_period": internal("the nightly job looks its period up first"),
    "reports_report_attempts_check": REPORT_JOB,
    "reports_report_robots_check": REPORT_JOB,
    "reports_report_size_check": REPORT_JOB,
    "reports_report.requested_by_id -> accounts_user": internal("the authenticated caller"),
    # robots
    "robots_robotmodel_code_key": CATALOG_CONFLICT,
    "robot_version_unique_per_model": CATALOG_CONFLICT,
    "robots_robotversion.model_id -> robots_robotmodel": internal("versions are added to a model looked up first"),
    "robot_created_in_api_years": (
        "robots/tests/test_ingest_api.py::test_created_outside_the_api_years_is_a_400_and_the_database_agrees"
    ),
    "robot_serial_is_model_dash_version": internal("robots.services derives the serial from model and version"),
    "robots_robot.robot_version_id -> robots_robotversion": (
        "robots/tests/test_ingest_api.py::test_bad_robots_get_a_400_naming_the_field"
    ),
}


def serializer_max_length(serializer, name: str) -> int:
    field = serializer().fields[name]
    return getattr(field, "max_length", None) or field.child.max_length


# text column -> the longest value the API lets through (compared with the column), or why none reaches it
LENGTHS = {
    "accounts_user.username": serializer_max_length(AccountRegisterApi.InputSerializer, "username"),
    "accounts_user.name": serializer_max_length(AccountRegisterApi.InputSerializer, "name"),
    "accounts_user.email": serializer_max_length(AccountRegisterApi.InputSerializer, "email"),
    "accounts_user.phone": 11,  # core.phones.phone_normalize: 7 and ten digits
    "accounts_user.password": internal("an Argon2 hash of a generated password"),
    "core_idempotencykey.key": MAX_KEY_LENGTH,
    "core_idempotencykey.fingerprint": internal("a SHA-256 in hex"),
    "customers_customer.email": serializer_max_length(CustomerInputSerializer, "email"),
    "customers_customer.phone_number": 11,  # normalised, then the model's 7XXXXXXXXXX
    "customers_customer.operator_code": serializer_max_length(CustomerInputSerializer, "operator_code"),
    "customers_customer.tag": serializer_max_length(CustomerInputSerializer, "tag"),
    "customers_customer.timezone": serializer_max_length(CustomerInputSerializer, "timezone"),
    "mailings_mailing.filter_operator_code": serializer_max_length(MailingInputSerializer, "filter_operator_code"),
    "mailings_mailing.filter_tag": serializer_max_length(MailingInputSerializer, "filter_tag"),
    "orders_order.robot_serial": serializer_max_length(OrderListCreateApi.InputSerializer, "robot_serial"),
    "robots_robotmodel.code": serializer_max_length(RobotModelListApi.InputSerializer, "code"),
    "robots_robotmodel.name": serializer_max_length(RobotModelListApi.InputSerializer, "name"),
    "robots_robotversion.code": max(
        serializer_max_length(RobotVersionCreateApi.InputSerializer, "code"),
        serializer_max_length(RobotModelListApi.InputSerializer, "versions"),
    ),
    "robots_robot.model": 2,  # robots.services.robot_input_parse: exactly two letters or digits
    "robots_robot.version": 2,
    "robots_robot.serial": internal("model-version, 5 characters"),
    "registrations_registrationrequest.request_id": CUT_TO_COLUMN,
    "registrations_registrationrequest.method": CUT_TO_COLUMN,
    "registrations_registrationrequest.outcome": internal("a RegistrationOutcome"),
    "registrations_registrationrequest.login": CUT_TO_COLUMN,
    "registrations_registrationrequest.email_masked": CUT_TO_COLUMN,
    "registrations_registrationrequest.phone_masked": CUT_TO_COLUMN,
    "registrations_registrationrequest.client_address": CUT_TO_COLUMN,
    "registrations_registrationrequest.user_agent": CUT_TO_COLUMN,
    "mailings_mailing.status": internal("a MailingStatus"),
    "mailings_mailing.paused_reason": internal("mailings.services cuts the reason to 500 characters"),
    "mailings_message.status": internal("a MessageStatus"),
    "mailings_message.phone_number": internal("copied from a customer"),
    "mailings_message.timezone": internal("copied from a customer"),
    "mailings_message.last_error": internal("mailings.gateway cuts errors to 500 characters"),
    "notifications_email.status": internal("an EmailStatus"),
    "notifications_email.subject": internal("rendered from the platform's templates"),
    "notifications_email.dedup_key": internal("made of ids"),
    "notifications_email.attachment_path": internal("a report's file under REPORTS_DIR"),
    "orders_order.status": internal("an OrderStatus"),
    "reports_report.kind": internal("a ReportKind"),
    "reports_report.status": internal("a ReportStatus"),
    "reports_report.file_name": internal("reports.services.report_file_name: dated, under 60 characters"),
    "reports_report.file_path": internal("a directory per report id and its file name"),
    "reports_report.sha256": internal("a SHA-256 in hex"),
    "customers_customerimport.status": internal("a CustomerImportStatus"),
    "customers_customerimport.file_name": internal("customers.services cuts the uploaded name to 255 characters"),
    "customers_customerimport.file_path": internal("a uuid and the format's suffix"),
    "customers_customerimport.file_format": internal("a CustomerImportFormat"),
    "customers_customerimportkey.key": internal("'phone:' + 11 digits or 'email:' + a checked address (254)"),
}


def catalog_constraints() -> dict[str, str]:
    """Every constraint and unique index of the platform's tables: its key -> its definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT rel.relname, con.conname, con.contype, ref.relname, att.attname, pg_get_constraintdef(con.oid)
            FROM pg_constraint con
            JOIN pg_class rel ON rel.oid = con.conrelid
            JOIN pg_namespace ns ON ns.oid = rel.relnamespace
            LEFT JOIN pg_class ref ON ref.oid = con.confrelid
            LEFT JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
            WHERE ns.nspname = current_schema() AND con.contype NOT IN ('p', 'n') AND rel.relname ~ %s
            UNION ALL
            SELECT tab.relname, idx.relname, 'i', NULL, NULL, pg_get_indexdef(ix.indexrelid)
            FROM pg_index ix
            JOIN pg_class idx ON idx.oid = ix.indexrelid
            JOIN pg_class tab ON tab.oid = ix.indrelid
            JOIN pg_namespace ns ON ns.oid = tab.relnamespace
            WHERE ns.nspname = current_schema() AND ix.indisunique AND NOT ix.indisprimary AND tab.relname ~ %s
              AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid)
            """,
            [APP_TABLES, APP_TABLES],
        )
        rows = cursor.fetchall()
    constraints = {}
    for table, name, kind, referenced, column, definition in rows:
        key = f"{table}.{column} -> {referenced}" if kind == "f" else name
        constraints[key] = definition
    return constraints


def catalog_text_columns() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name, character_maximum_length FROM information_schema.columns
            WHERE table_schema = current_schema() AND data_type = 'character varying' AND table_name ~ %s
            """,
            [APP_TABLES],
        )
        return {f"{table}.{column}": length for table, column, length in cursor.fetchall()}


def defined_tests(path: Path) -> set[str]:
    return {
        node.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


@pytest.mark.django_db
def test_every_database_constraint_has_a_check_that_comes_first():
    constraints = catalog_constraints()

    missing = sorted(set(constraints) - set(CHECKED_FIRST))
    assert not missing, "constraints without an API check (add them to CHECKED_FIRST): " + "; ".join(
        f"{key}: {constraints[key]}" for key in missing
    )
    assert sorted(set(CHECKED_FIRST) - set(constraints)) == [], "CHECKED_FIRST names constraints that are gone"


@pytest.mark.parametrize("check", sorted(set(CHECKED_FIRST.values())))
def test_each_check_named_is_a_test_that_exists(check):
    if check.startswith("internal: "):
        return
    path, _, function = check.partition("::")

    assert function in defined_tests(BACKEND_DIR / path), check


@pytest.mark.django_db
def test_every_text_column_is_at_least_as_long_as_what_the_api_lets_through():
    columns = catalog_text_columns()

    assert sorted(set(columns) - set(LENGTHS)) == [], "text columns without an entry in LENGTHS"
    assert sorted(set(LENGTHS) - set(columns)) == [], "LENGTHS names columns that are gone"
    too_long = {
        column: (api, columns[column])
        for column, api in LENGTHS.items()
        if not isinstance(api, str) and api > columns[column]
    }
    assert too_long == {}, "the API lets longer values through than these columns hold: (api, column)"
