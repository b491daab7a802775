"""Start-up checks of the accounts settings."""

from django.conf import settings
from django.core.checks import Error, register

from accounts.hashers import argon2_parameters_meet_owasp_minimum


@register("security")
def argon2_cost_check(app_configs=None, **kwargs) -> list[Error]:
    if argon2_parameters_meet_owasp_minimum(
        memory_cost=settings.ARGON2_MEMORY_COST,
        time_cost=settings.ARGON2_TIME_COST,
        parallelism=settings.ARGON2_PARALLELISM,
    ):
        return []
    return [
        Error(
            "The argon2id cost is below OWASP's minimum.",
            hint="Use at least ARGON2_MEMORY_COST=19456 (KiB) with ARGON2_TIME_COST=2 and ARGON2_PARALLELISM=1, "
            "or another OWASP configuration (46 MiB x 1, 12 MiB x 3, 9 MiB x 4, 7 MiB x 5).",
            id="accounts.E001",
        )
    ]
