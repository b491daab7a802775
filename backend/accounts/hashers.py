"""The password hasher: argon2id with the cost the settings give (ARGON2_*)."""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

# OWASP's argon2id configurations (Password Storage Cheat Sheet) trade memory for passes:
# 46 MiB x 1, 19 MiB x 2, 12 MiB x 3, 9 MiB x 4, 7 MiB x 5, all with one lane.
OWASP_MIN_MEMORY_KIB = 7168
OWASP_MIN_MEMORY_TIMES_PASSES = 7168 * 5


def argon2_parameters_meet_owasp_minimum(*, memory_cost: int, time_cost: int, parallelism: int) -> bool:
    return (
        parallelism >= 1
        and time_cost >= 1
        and memory_cost >= OWASP_MIN_MEMORY_KIB
        and memory_cost * time_cost >= OWASP_MIN_MEMORY_TIMES_PASSES
    )


class ConfiguredArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's argon2id hasher with the configured cost.

    The algorithm name stays `argon2`, so existing hashes verify, and a hash made with
    other parameters is upgraded at the account's next sign-in (`must_update`).
    """

    @property
    def memory_cost(self) -> int:
        return settings.ARGON2_MEMORY_COST

    @property
    def time_cost(self) -> int:
        return settings.ARGON2_TIME_COST

    @property
    def parallelism(self) -> int:
        return settings.ARGON2_PARALLELISM
