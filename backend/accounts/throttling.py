"""The useradd throttle: per client address, and open rather than broken when Redis is down."""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class FailOpenScopedRateThrottle(ScopedRateThrottle):
    """ScopedRateThrottle whose rate is read per request and whose cache may be down.

    Registration must keep working when the throttle's store (Redis) is unavailable: the
    request is let through and the outage is logged, rather than every sign-up failing.
    """

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache backend is unreachable: fail open, loudly
            logger.warning("throttle store unavailable; %s request let through", self.scope, exc_info=True)
            return True


def client_address(request) -> str:
    """The client's address as the throttles see it (NUM_PROXIES decides whom to trust)."""
    return ScopedRateThrottle().get_ident(request) or ""
