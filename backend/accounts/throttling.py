"""The API throttles: per client address, and open rather than broken when Redis is down."""

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle


class FailOpenScopedRateThrottle(ScopedRateThrottle):
    """ScopedRateThrottle whose rate is read per request (tests and settings may change it).

    It fails open: the cache is django-redis with IGNORE_EXCEPTIONS (config/settings.py), so
    with Redis unreachable the request history reads as empty and is not stored, the request
    is let through and django-redis logs the outage, rather than every sign-up failing.
    """

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


def client_address(request) -> str:
    """The client's address as the throttles see it (NUM_PROXIES decides whom to trust)."""
    return ScopedRateThrottle().get_ident(request) or ""
