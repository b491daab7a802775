"""The useradd phone check (accounts.apis: separators dropped, then 7 and ten digits), by kind."""

import re
import string

from hypothesis import example, given
from hypothesis import strategies as st
from rest_framework import serializers

from accounts.apis import AccountRegisterApi

# The database's accounts_user_phone_format, as PostgreSQL reads it: ASCII, the whole value.
DATABASE_PHONE = re.compile(r"7[0-9]{10}", re.ASCII)
NON_ASCII_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９०१२३४५६७८९²"
WRITTEN = ["+7 ({0}) {1}-{2}-{3}", "7{0}{1}{2}{3}", "+7{0}{1}{2}{3}", "7 {0} {1} {2} {3}", "7({0}){1}-{2}-{3}"]


def phone_check(value: str) -> str | None:
    try:
        return AccountRegisterApi.InputSerializer().validate_phone(value)
    except serializers.ValidationError:
        return None


@given(text=st.text(max_size=40))
@example("7" + "٩" * 10)  # `\d` took these, PostgreSQL's [0-9] does not: a 500 before
@example("７９１６１２３４５６７")
@example("79161234567\n")
def test_whatever_the_text_the_check_keeps_only_what_the_database_takes(text):
    phone = phone_check(text)

    if phone:
        assert DATABASE_PHONE.fullmatch(phone)


@given(digits=st.text(alphabet=string.digits, min_size=10, max_size=10), written=st.sampled_from(WRITTEN))
def test_a_number_written_with_spaces_brackets_or_dashes_is_normalised(digits, written):
    assert phone_check(written.format(digits[:3], digits[3:6], digits[6:8], digits[8:])) == "7" + digits


@given(digits=st.text(alphabet=string.digits, min_size=10, max_size=10), data=st.data())
def test_a_non_ascii_digit_is_never_taken(digits, data):
    position = data.draw(st.integers(min_value=0, max_value=10))
    phone = "7" + digits
    phone = phone[:position] + data.draw(st.sampled_from(NON_ASCII_DIGITS)) + phone[position + 1 :]

    assert phone_check(phone) is None
