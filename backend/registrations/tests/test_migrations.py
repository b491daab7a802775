"""The registration request log moved from accounts to registrations with its rows (issue 14)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("accounts", "0005_user_manager_case_insensitive_login"), ("registrations", None)]
AFTER = [("registrations", "0002_content_type_from_accounts")]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_the_log_moves_with_its_rows_and_moves_back():
    # given the log as accounts kept it, with an entry
    old_apps = migrate(BEFORE).loader.project_state(BEFORE[:1]).apps
    old_apps.get_model("accounts", "RegistrationRequest").objects.create(
        created_at=timezone.now(), status_code=201, outcome="created", login="kept", duration_ms=1.0
    )
    try:
        # when the migrations run
        new_apps = migrate(AFTER).loader.project_state(AFTER).apps

        # then the entry is registrations', in a table named after it
        moved = new_apps.get_model("registrations", "RegistrationRequest")
        assert moved._meta.db_table == "registrations_registrationrequest"
        assert list(moved.objects.values_list("login", flat=True)) == ["kept"]

        # and going back gives accounts its table and the entry again
        migrate(BEFORE)
        with connection.cursor() as cursor:
            cursor.execute("SELECT login FROM accounts_registrationrequest")
            assert cursor.fetchall() == [("kept",)]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
