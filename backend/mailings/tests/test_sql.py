"""Mailings' SQL takes its names from the models and its statuses from the enums: a renamed
table, column or status cannot leave a statement behind."""

import ast
import re
from pathlib import Path

from django.apps import apps

from mailings.models import MailingStatus, MessageStatus

MAILINGS = Path(__file__).resolve().parents[1]
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|JOIN)\b", re.IGNORECASE)


def product_strings() -> list[tuple[str, str]]:
    """Every string written in mailings' product code (f-strings' literal parts included)."""
    found = []
    for path in sorted(MAILINGS.rglob("*.py")):
        if {"tests", "migrations"} & set(path.relative_to(MAILINGS).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((path.name, node.value))
    return found


def test_no_string_in_mailings_names_a_table():
    tables = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}

    named = [(file, text) for file, text in product_strings() for table in tables if table in text]

    assert named == []


def test_no_sql_in_mailings_spells_a_status():
    statuses = set(MessageStatus.values) | set(MailingStatus.values)
    sql = [(file, text) for file, text in product_strings() if SQL_WORDS.search(text)]

    spelled = [(file, text) for file, text in sql for status in statuses if f"'{status}'" in text]

    assert sql, "the check found no SQL at all: is it still looking at the right files?"
    assert spelled == []
