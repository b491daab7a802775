"""The input guards, by kind (property tests): the datetime parser, the string guard, e-mail limits."""

import re
import string
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.guards import (
    LINE_FORBIDDEN,
    MAX_UTC_OFFSET,
    DateTimeInputError,
    YearRange,
    escape_control_characters,
    nest_errors,
    parse_date_input,
    parse_datetime_input,
    parse_time_input,
    smtp_address_problem,
    string_problems,
)

FACTORY = ZoneInfo("Europe/Moscow")
# Digits that are not ASCII: str.isdigit() and Python's \d take most of them, int() many.
NON_ASCII_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９०१२३४५६७८९০১২৩৪৫৬৭৮৯²³¹"
CONTROL_CHARACTERS = [chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)]] + ["\ud800", "\udfff"]
in_range = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59, 999999))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda minutes: timedelta(minutes=minutes))


def iso(value: datetime, *, separator: str = "T", seconds: bool = True) -> str:
    text = value.strftime(f"%Y-%m-%d{separator}%H:%M")
    if seconds:
        text += value.strftime(":%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}"
    if value.tzinfo is not None:
        offset = value.utcoffset()
        sign = "-" if offset < timedelta(0) else "+"
        minutes = abs(int(offset.total_seconds())) // 60
        text += f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return text


# --- datetimes -------------------------------------------------------------------------
@given(moment=in_range, offset=offsets, separator=st.sampled_from(["T", " ", "t"]))
def test_every_iso_date_time_in_range_is_read_as_the_same_instant(moment, offset, separator):
    aware = moment.replace(tzinfo=timezone(offset))

    parsed = parse_datetime_input(iso(aware, separator=separator))

    assert parsed == aware
    assert parsed.utcoffset() == offset


@given(moment=in_range.map(lambda value: value.replace(microsecond=0)))
def test_the_production_lines_format_is_factory_time(moment):
    parsed = parse_datetime_input(moment.strftime("%Y-%m-%d %H:%M:%S"), default_timezone=FACTORY)

    assert parsed.tzinfo is FACTORY
    assert parsed.replace(tzinfo=None) == moment


@given(moment=in_range)
def test_z_means_utc_and_minutes_alone_are_enough(moment):
    assert parse_datetime_input(iso(moment, seconds=False) + "Z") == moment.replace(second=0, microsecond=0, tzinfo=UTC)


@given(text=st.text(max_size=40))
@example("0001-01-01 00:00:00")
@example("0001-01-01T00:00:00+05:00")
@example("9999-12-31T23:59:59-23:59")
@example("7358-10-07T19:24:00.21+22:38")
@example("2023-10-03T23:59:12+14:01")
@example("2023-10-03T24:00:00")
@example("2023-10-03 23:59:60")
def test_any_text_is_an_aware_datetime_in_range_or_a_date_time_input_error(text):
    try:
        parsed = parse_datetime_input(text)
    except DateTimeInputError as exc:
        assert exc.message and exc.code
        return
    assert parsed.tzinfo is not None
    assert abs(parsed.utcoffset()) <= MAX_UTC_OFFSET
    assert 2000 <= parsed.year <= 2100
    # nothing a later step does with it can overflow
    assert parsed.astimezone(UTC) - timedelta(days=366) < parsed + timedelta(days=366)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("0001-01-01 00:00:00", "year_out_of_range"),
        ("0001-01-01 00:00:00+05:00", "year_out_of_range"),
        ("9999-12-31 23:00:00", "year_out_of_range"),
        ("1999-12-31T23:59:59Z", "year_out_of_range"),
        ("2101-01-01T00:00:00Z", "year_out_of_range"),
        ("7358-10-07T19:24:00.21+22:38", "year_out_of_range"),
        ("2023-10-03T19:24:00+22:38", "offset_out_of_range"),
        ("2023-10-03T19:24:00+14:01", "offset_out_of_range"),
        ("2023-10-03T19:24:00-14:30", "offset_out_of_range"),
        ("2023-10-03T19:24:00+05:60", "offset_out_of_range"),
        ("2023-10-03", "date_only"),
        ("2023-W40-2", "invalid"),
        ("2023-W40-2T10:00:00", "invalid"),
        ("2023-276T10:00:00", "invalid"),
        ("20231003T235912", "invalid"),
        ("2023-10-03T23", "invalid"),
        ("23:59:12", "invalid"),
        ("2023-02-30 10:00:00", "invalid"),
        ("2023-10-03 24:00:00", "invalid"),
        (" 2023-10-03 23:59:12", "invalid"),
        ("2023-10-03 23:59:12\n", "invalid"),
        ("+002023-10-03T00:00:00", "invalid"),
        ("2023-10-03T23:59:12−03:00", "invalid"),  # U+2212 MINUS SIGN
    ],
)
def test_out_of_range_and_malformed_datetimes_are_refused_by_kind(text, code):
    with pytest.raises(DateTimeInputError) as refused:
        parse_datetime_input(text)

    assert refused.value.code == code


@given(moment=in_range, offset=offsets, data=st.data())
def test_a_non_ascii_digit_anywhere_is_refused(moment, offset, data):
    text = iso(moment.replace(tzinfo=timezone(offset)))
    positions = [index for index, character in enumerate(text) if character in string.digits]
    position = data.draw(st.sampled_from(positions))
    digit = data.draw(st.sampled_from(NON_ASCII_DIGITS))

    with pytest.raises(DateTimeInputError):
        parse_datetime_input(text[:position] + digit + text[position + 1 :])


@given(moment=in_range.map(lambda value: value.replace(microsecond=0)))
def test_not_after_refuses_a_later_instant_only(moment):
    aware = moment.replace(tzinfo=UTC)
    text = iso(aware)

    assert parse_datetime_input(text, not_after=aware) == aware
    with pytest.raises(DateTimeInputError) as refused:
        parse_datetime_input(text, not_after=aware - timedelta(seconds=1), not_after_message="Not yet.")
    assert (refused.value.code, refused.value.message) == ("in_future", "Not yet.")


def test_a_field_may_document_other_years():
    assert parse_datetime_input("1990-05-17 10:00:00", years=YearRange(1900, 2100)).year == 1990


def test_dates_and_times_of_day_take_one_form_each():
    assert parse_date_input("1990-05-17", years=YearRange(1, 9999)).isoformat() == "1990-05-17"
    assert parse_time_input("09:30").isoformat() == "09:30:00"
    for bad_date in ("1990-W20-4", "19900517", "1990-137", "١٩٩٠-٠٥-١٧", "1990-05-17T00:00"):
        with pytest.raises(DateTimeInputError):
            parse_date_input(bad_date, years=YearRange(1, 9999))
    for bad_time in ("9:30", "٠٩:٣٠", "24:00", "09:60", "0930", "09:30 "):
        with pytest.raises(DateTimeInputError):
            parse_time_input(bad_time)


# --- strings ---------------------------------------------------------------------------
clean_text = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=30)


@given(before=clean_text, character=st.sampled_from(CONTROL_CHARACTERS), after=clean_text)
def test_a_control_character_anywhere_in_a_value_is_found_and_its_field_named(before, character, after):
    body = [{"model": "R2", "name": before + character + after}]

    problems, too_deep = string_problems(body)

    assert not too_deep
    assert [path for path, _ in problems] == [(0, "name")]
    assert f"U+{ord(character):04X}" in problems[0][1]
    assert nest_errors(problems) == {"0": {"name": [problems[0][1]]}}


@given(before=clean_text, character=st.sampled_from(CONTROL_CHARACTERS), after=clean_text)
def test_a_control_character_in_a_key_is_found_and_the_key_shown_escaped(before, character, after):
    problems, _ = string_problems({before + character + after: "x"})

    errors = nest_errors(problems)
    (label,) = errors
    assert not LINE_FORBIDDEN.search(label)
    assert errors[label] == ["The field name holds a control character."]


@given(text=clean_text)
def test_text_without_control_characters_passes(text):
    assert string_problems({"a": [text, {"b": text}], text: text}) == ([], False)


@given(character=st.sampled_from("\t\n\r"))
def test_line_breaks_and_tabs_pass_only_in_the_fields_named_multiline(character):
    body = {"text": f"one{character}two", "tag": f"vip{character}"}

    problems, _ = string_problems(body, multiline_fields=("text",))

    assert [path for path, _ in problems] == [("tag",)]
    assert string_problems({"text": "a\x00b"}, multiline_fields=("text",))[0]  # other controls still refused


def test_nesting_beyond_the_limit_is_reported_without_recursion():
    deep = []
    for _ in range(100_000):
        deep = [deep]

    assert string_problems(deep, max_depth=20) == ([], True)
    assert string_problems([[["x"]]], max_depth=20) == ([], False)


@given(text=st.text())
def test_escaping_leaves_no_control_character_and_changes_nothing_else(text):
    escaped = escape_control_characters(text)

    assert not LINE_FORBIDDEN.search(escaped)
    assert re.sub(r"\\u[0-9a-f]{4}", "", escaped) == re.sub(r"\\u[0-9a-f]{4}", "", LINE_FORBIDDEN.sub("", text))


# --- e-mail addresses ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("a" * 64 + "@example.com", False),
        ("a" * 65 + "@example.com", True),
        ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 56 + ".com", False),  # 254 octets
        ("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 57 + ".com", True),  # 255
        ("ann@пример.рф", False),
        ("анна@example.com", True),  # a non-ASCII local part needs SMTPUTF8, which the mailer does not use
    ],
)
def test_addresses_are_held_to_what_smtp_servers_take(address, refused):
    assert (smtp_address_problem(address) is not None) is refused
