from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import checks  # noqa: F401 (registers the argon2 cost check)
        from accounts.metrics import UseraddLogSpoolCollector
        from accounts.roles import sync_role_permissions
        from core.metrics import extra_registry

        extra_registry.register(UseraddLogSpoolCollector())

        # Model permissions only exist after each migrate run; give them to the roles then.
        post_migrate.connect(sync_role_permissions, dispatch_uid="accounts.sync_role_permissions")
