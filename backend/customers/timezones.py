"""Customer time zones: IANA names, or fixed offsets written `GMT+3`/`UTC+03:00` (stored as `UTC+03:00`)."""

import re
import zoneinfo
from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache

from django.core.exceptions import ValidationError

# ASCII digits only: without re.ASCII, \d would read "GMT+٣" as UTC+03:00.
_OFFSET = re.compile(
    r"^(?:UTC|GMT)\s*(?:(?P<sign>[+-])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?)?\Z", re.IGNORECASE | re.ASCII
)
MAX_OFFSET = timedelta(hours=14)


@lru_cache(maxsize=1)
def _iana_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_normalize(value: str) -> str:
    """The stored form of a time zone: an IANA name as given, or `UTC±HH:MM`; raises ValidationError."""
    return _timezone_normalized((value or "").strip())


# A file import checks the same few zones on every row (and the model's validator once more).
@lru_cache(maxsize=1024)
def _timezone_normalized(value: str) -> str:
    if value in _iana_names():
        return value
    match = _OFFSET.match(value)
    if match is None:
        raise ValidationError(
            f"'{value}' is not a time zone: use an IANA name (e.g. Europe/Moscow) or an offset like GMT+3.",
            code="invalid_timezone",
        )
    if match["sign"] is None:
        return "UTC"
    offset = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"] or 0))
    if offset > MAX_OFFSET or int(match["minutes"] or 0) >= 60:
        raise ValidationError(f"'{value}': offsets go from UTC-14:00 to UTC+14:00.", code="invalid_timezone")
    hours, minutes = divmod(int(offset.total_seconds()) // 60, 60)
    return f"UTC{match['sign']}{hours:02d}:{minutes:02d}"


def validate_timezone(value: str) -> None:
    """Model validator: only the stored form is accepted."""
    if timezone_normalize(value) != value:
        raise ValidationError(f"'{value}' is not in its stored form ({timezone_normalize(value)}).", code="invalid")


@lru_cache(maxsize=1024)
def tzinfo_for(value: str) -> tzinfo:
    """The tzinfo of a stored time zone (an unknown one counts as UTC rather than failing a send)."""
    match = _OFFSET.match(value or "")
    if match is not None:
        if match["sign"] is None:
            return UTC
        offset = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"] or 0))
        return timezone(offset if match["sign"] == "+" else -offset, value)
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC
