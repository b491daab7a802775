"""Serializer fields for the API's inputs, on the one parser of each kind in core.guards."""

from rest_framework import serializers

from core.guards import (
    DATETIME_FORMATS_TEXT,
    DEFAULT_YEARS,
    DateTimeInputError,
    YearRange,
    parse_date_input,
    parse_datetime_input,
    parse_time_input,
    smtp_address_problem,
)


class DateTimeInputField(serializers.DateTimeField):
    """A date-time in one of the documented forms (core.guards.parse_datetime_input).

    `years` bounds the year (2000–2100 unless the field says otherwise); output is DRF's
    ISO 8601 with the offset.
    """

    def __init__(self, *, years: YearRange = DEFAULT_YEARS, **kwargs):
        self.years = years
        kwargs.setdefault(
            "help_text", f"{DATETIME_FORMATS_TEXT}; years {years.earliest}–{years.latest}, offsets within ±14:00."
        )
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        try:
            return parse_datetime_input(value, years=self.years)
        except DateTimeInputError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None


class DateInputField(serializers.DateField):
    """A calendar date written YYYY-MM-DD, nothing else (no week dates, no basic form)."""

    def __init__(self, *, years: YearRange = DEFAULT_YEARS, **kwargs):
        self.years = years
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        try:
            return parse_date_input(value, years=self.years)
        except DateTimeInputError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None


class TimeInputField(serializers.TimeField):
    """A time of day written hh:mm (or hh:mm:ss), ASCII digits."""

    def to_internal_value(self, value):
        try:
            return parse_time_input(value)
        except DateTimeInputError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None


def validate_smtp_address(value: str) -> None:
    """Serializer validator: the address must be one a mail server accepts (core.guards)."""
    problem = smtp_address_problem(value)
    if problem:
        raise serializers.ValidationError(problem, code="invalid_email")


class EmailInputField(serializers.EmailField):
    """An e-mail address that Django's validator and the SMTP limits (RFC 5321) both accept."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)
        self.validators.append(validate_smtp_address)
