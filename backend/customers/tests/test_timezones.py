import pytest
from django.core.exceptions import ValidationError

from customers.timezones import timezone_normalize, tzinfo_for


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Europe/Moscow", "Europe/Moscow"),
        ("GMT+3", "UTC+03:00"),
        ("UTC+3", "UTC+03:00"),
        ("utc-05:30", "UTC-05:30"),
        ("GMT+0530", "UTC+05:30"),
        ("UTC", "UTC"),
        (" Asia/Vladivostok ", "Asia/Vladivostok"),
    ],
)
def test_time_zones_are_stored_as_iana_names_or_fixed_offsets(given, stored):
    assert timezone_normalize(given) == stored


@pytest.mark.parametrize("given", ["Mars/Olympus", "GMT+15", "UTC+3:75", "", "+3"])
def test_what_is_not_a_time_zone_is_refused(given):
    with pytest.raises(ValidationError):
        timezone_normalize(given)


def test_a_fixed_offset_becomes_a_tzinfo():
    from datetime import datetime, timedelta

    assert tzinfo_for("UTC+03:00").utcoffset(datetime(2026, 1, 1)) == timedelta(hours=3)
    assert tzinfo_for("UTC-05:30").utcoffset(datetime(2026, 1, 1)) == timedelta(hours=-5, minutes=-30)
