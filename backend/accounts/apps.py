from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import (
            checks,  # noqa: F401 (registers the argon2 cost check)
            signals,
        )
        from accounts.roles import sync_role_permissions

        # Model permissions only exist after each migrate run; give them to the roles then.
        post_migrate.connect(sync_role_permissions, dispatch_uid="accounts.sync_role_permissions")
        # Revoked tokens and changed roles are refused at once by every web process.
        signals.connect()
