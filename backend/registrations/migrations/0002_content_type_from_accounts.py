"""Data: the log's content type (and so any permission given on it) follows the model to
registrations; on a fresh database there is none yet, and this does nothing."""

from django.db import migrations


def move(apps, schema_editor, *, source: str, target: str) -> None:
    content_types = apps.get_model("contenttypes", "ContentType").objects
    if content_types.filter(app_label=target, model="registrationrequest").exists():
        return
    content_types.filter(app_label=source, model="registrationrequest").update(app_label=target)


def forwards(apps, schema_editor):
    move(apps, schema_editor, source="accounts", target="registrations")


def backwards(apps, schema_editor):
    move(apps, schema_editor, source="registrations", target="accounts")


class Migration(migrations.Migration):
    dependencies = [
        ("registrations", "0001_registration_request_from_accounts"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
