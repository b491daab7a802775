"""The registration request log moves to the registrations app (issue 14): accounts forgets the
model; its table, and every row in it, is taken over by registrations.0001."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_manager_case_insensitive_login"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RegistrationRequest")],
            database_operations=[],
        ),
    ]
