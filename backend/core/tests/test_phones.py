"""The one phone normaliser (core.phones, on libphonenumber), by kind: what customers and useradd store."""

import re
import string

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given
from hypothesis import strategies as st

from core.phones import phone_normalize, validate_phone_stored_form

# The database's customer_phone_is_7_and_10_digits and accounts_user_phone_format, as
# PostgreSQL reads them: ASCII, the whole value.
DATABASE_PHONE = re.compile(r"7[0-9]{10}", re.ASCII)
NON_ASCII_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９०१२३४५६७८९²"
WRITTEN = [
    "+7 ({0}) {1}-{2}-{3}",
    "8 ({0}) {1}-{2}-{3}",
    "7{0}{1}{2}{3}",
    "8{0}{1}{2}{3}",
    "+7{0}{1}{2}{3}",
    "7 {0} {1} {2} {3}",
    "7({0}){1}-{2}-{3}",
    "7.{0}.{1}.{2}.{3}",
    " 7-{0}-{1}{2}{3} ",
    "{0} {1}-{2}-{3}",
]


def _allocated(national: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=7, national_number=int(national)))


# A Russian mobile number: 9 and nine digits, in a range libphonenumber's metadata knows as
# allocated (it refuses a few, such as 930 000-00-xx: see the test below).
mobile = st.text(alphabet=string.digits, min_size=9, max_size=9).map(lambda digits: "9" + digits).filter(_allocated)


def normalised(text: str) -> str | None:
    try:
        return phone_normalize(text)
    except ValidationError as exc:
        assert exc.code == "invalid_phone"
        return None


@given(text=st.text(max_size=40))
@example("7" + "٩" * 10)  # `\d` took these, PostgreSQL's [0-9] does not: a 500 before
@example("７９１６１２３４５６７")
@example("79161234567\n")
@example("+7 916 123-45-67 ext. 89")
def test_whatever_the_text_only_what_the_database_takes_comes_out(text):
    phone = normalised(text)

    if phone is not None:
        assert DATABASE_PHONE.fullmatch(phone)
        validate_phone_stored_form(phone)


@given(digits=mobile, written=st.sampled_from(WRITTEN))
def test_a_number_written_as_people_write_it_is_stored_as_7_and_ten_digits(digits, written):
    text = written.format(digits[:3], digits[3:6], digits[6:8], digits[8:])

    assert normalised(text) == "7" + digits


def test_a_mobile_number_of_a_range_not_allocated_is_refused():
    assert normalised("+7 (930) 000-00-00") is None


@given(digits=mobile, data=st.data())
def test_a_non_ascii_digit_is_never_taken(digits, data):
    position = data.draw(st.integers(min_value=0, max_value=10))
    phone = "7" + digits
    phone = phone[:position] + data.draw(st.sampled_from(NON_ASCII_DIGITS)) + phone[position + 1 :]

    assert normalised(phone) is None


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("8 (912) 345-67-89", "79123456789"),
        ("+7 (912) 345-67-89", "79123456789"),
        ("89161234567", "79161234567"),
        ("8 495 123-45-67", "74951234567"),  # a Moscow landline
    ],
)
def test_russian_numbers_are_accepted_in_their_usual_forms(text, stored):
    assert phone_normalize(text) == stored


@pytest.mark.parametrize(
    "text",
    ["7916123456", "7916123456x", "+1 202 555 0143", "+44 20 7946 0958", "79300000000", "8916", "", "+", "7-(9)"],
)
def test_invalid_numbers_and_other_countries_are_refused(text):
    assert normalised(text) is None


def parsed_by_libphonenumber(text: str) -> str | None:
    """What libphonenumber's own parser makes of `text` (the way every input went before the
    usual shapes got a short cut)."""
    import phonenumbers

    from core.phones import COUNTRY_CODE, DEFAULT_REGION

    try:
        number = phonenumbers.parse(text.strip(), DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    national = str(number.national_number)
    if number.country_code != COUNTRY_CODE or len(national) != 10 or not phonenumbers.is_valid_number(number):
        return None
    return f"{COUNTRY_CODE}{national}"


@given(
    prefix=st.sampled_from(["", "+7", "7", "8", "+8", "+", "0", "77", "88", "+77"]),
    digits=st.text(alphabet=string.digits, min_size=8, max_size=12),
    separator=st.sampled_from(["", " ", "-", "."]),
)
@example(prefix="", digits="8123456789", separator="")
@example(prefix="7", digits="7012345678", separator="")
@example(prefix="8", digits="0123456789", separator="")
def test_the_short_cut_for_the_usual_shapes_agrees_with_libphonenumbers_parser(prefix, digits, separator):
    text = prefix + separator.join([digits[:3], digits[3:6], digits[6:]])

    assert normalised(text) == parsed_by_libphonenumber(text)
