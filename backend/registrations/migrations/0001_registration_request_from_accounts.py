"""The registration request log, taken over from accounts with its rows (issue 14).

The model is created in the state on the table accounts made (accounts.0004), which is then
renamed after this app, and its index after the log. PostgreSQL keeps the names of the
table's other constraints and indexes (accounts_registrationrequest_...), as Django's own
AlterModelTable does. Reversible: the table and the index get their old names back.
"""

import uuid

import django.contrib.postgres.fields
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0006_registration_request_moves_to_registrations"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RegistrationRequest",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                        ),
                        ("entry_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ("created_at", models.DateTimeField(db_index=True)),
                        ("request_id", models.CharField(blank=True, max_length=64)),
                        ("method", models.CharField(default="POST", max_length=10)),
                        ("status_code", models.PositiveSmallIntegerField()),
                        (
                            "outcome",
                            models.CharField(
                                choices=[
                                    ("created", "Created"),
                                    ("rejected", "Rejected (invalid input)"),
                                    ("conflict", "Conflict (already taken)"),
                                    ("malformed", "Malformed request"),
                                    ("throttled", "Throttled"),
                                    ("unavailable", "Service unavailable"),
                                    ("error", "Server error"),
                                ],
                                max_length=20,
                            ),
                        ),
                        (
                            "error_codes",
                            django.contrib.postgres.fields.ArrayField(
                                base_field=models.CharField(max_length=100), blank=True, default=list, size=None
                            ),
                        ),
                        (
                            "errors",
                            models.JSONField(
                                blank=True, default=dict, help_text="Messages by field, as the client got them."
                            ),
                        ),
                        ("login", models.CharField(blank=True, help_text="The login asked for.", max_length=150)),
                        ("email_masked", models.CharField(blank=True, max_length=254)),
                        ("phone_masked", models.CharField(blank=True, max_length=32)),
                        ("client_address", models.CharField(blank=True, max_length=100)),
                        ("user_agent", models.CharField(blank=True, max_length=200)),
                        ("duration_ms", models.FloatField()),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="registration_requests",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["outcome", "created_at"], name="accounts_regreq_outcome_time")
                        ],
                        "db_table": "accounts_registrationrequest",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="registrationrequest", table=None),
        migrations.RenameIndex(
            model_name="registrationrequest",
            new_name="registration_request_outcome",
            old_name="accounts_regreq_outcome_time",
        ),
    ]
