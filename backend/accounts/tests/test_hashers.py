"""The password hasher's cost: configured, and never below OWASP's minimum for argon2id."""

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from accounts.checks import argon2_cost_check


def test_hashes_are_argon2id_with_the_configured_cost(settings):
    settings.ARGON2_MEMORY_COST = 12288
    settings.ARGON2_TIME_COST = 3

    encoded = make_password("correct horse battery staple")

    assert encoded.startswith("argon2$argon2id$v=19$m=12288,t=3,p=1$")
    assert check_password("correct horse battery staple", encoded)


def test_a_hash_with_an_older_cost_is_upgraded_at_the_next_sign_in(settings):
    settings.ARGON2_MEMORY_COST = 12288
    settings.ARGON2_TIME_COST = 3
    old = make_password("pw-123456789012")
    settings.ARGON2_MEMORY_COST = 19456
    settings.ARGON2_TIME_COST = 2

    assert identify_hasher(old).must_update(old)


@pytest.mark.parametrize(
    ("memory", "passes", "lanes", "ok"),
    [
        (19456, 2, 1, True),
        (47104, 1, 1, True),
        (12288, 3, 1, True),
        (7168, 5, 1, True),
        (19456, 1, 1, False),
        (4096, 10, 1, False),
        (19456, 2, 0, False),
    ],
)
def test_the_start_up_check_refuses_a_cost_below_owasps_minimum(settings, memory, passes, lanes, ok):
    settings.ARGON2_MEMORY_COST = memory
    settings.ARGON2_TIME_COST = passes
    settings.ARGON2_PARALLELISM = lanes

    errors = argon2_cost_check()

    assert (errors == []) is ok
    assert all(error.id == "accounts.E001" for error in errors)
