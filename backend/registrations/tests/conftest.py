"""Fixtures of the registrations tests: the accounts tests' own (a private spool directory, a
throttle out of the way, a fresh client address), written once there."""

from accounts.tests.conftest import (  # noqa: F401 (pytest finds fixtures by name)
    _generous_useradd_throttle,
    _registration_request_log_spool,
    client_address,
    set_useradd_rate,
)
