"""Fixtures of the registrations tests: a private spool directory and a throttle out of the way."""

import itertools
import random

import pytest

_addresses = itertools.count(1)


@pytest.fixture(autouse=True)
def _registration_request_log_spool(settings, tmp_path):
    settings.REGISTRATION_REQUEST_LOG_SPOOL_DIR = tmp_path / "registration-request-log-spool"


@pytest.fixture(autouse=True)
def _generous_useradd_throttle(settings):
    """Tests register many accounts from one address; the throttle test sets its own rate."""
    set_useradd_rate(settings, "1000/s")


def set_useradd_rate(settings, rate: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "useradd": rate},
    }


@pytest.fixture
def client_address() -> str:
    """An address no other test (or earlier run) used, so throttle counters start at zero."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{next(_addresses) % 250 + 1}"
