"""The customers' phone normalisation (services.phone_normalize and the model's check), by kind."""

import re
import string

from django.core.exceptions import ValidationError
from hypothesis import example, given
from hypothesis import strategies as st

from customers.models import Customer
from customers.services import phone_normalize

# The database's customer_phone_is_7_and_10_digits, as PostgreSQL reads it: ASCII, the whole value.
DATABASE_PHONE = re.compile(r"7[0-9]{10}", re.ASCII)
NON_ASCII_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９०१२३४५६७८९²"
WRITTEN = [
    "+7 ({0}) {1}-{2}-{3}",
    "7{0}{1}{2}{3}",
    "+7{0}{1}{2}{3}",
    "7 {0} {1} {2} {3}",
    "7.{0}.{1}.{2}.{3}",
    " 7-{0}-{1}{2}{3} ",
]


def model_accepts(phone: str | None) -> bool:
    try:
        Customer._meta.get_field("phone_number").clean(phone, None)
    except ValidationError:
        return False
    return True


@given(text=st.text(max_size=40))
@example("7" + "٩" * 10)
@example("７９１６１２３４５６７")
@example("79161234567\n")
def test_whatever_the_text_the_api_keeps_only_what_the_database_takes(text):
    phone = phone_normalize(text)

    if phone is not None and model_accepts(phone):
        assert DATABASE_PHONE.fullmatch(phone)


@given(digits=st.text(alphabet=string.digits, min_size=10, max_size=10), written=st.sampled_from(WRITTEN))
def test_a_number_written_with_spaces_brackets_dots_or_dashes_is_normalised(digits, written):
    text = written.format(digits[:3], digits[3:6], digits[6:8], digits[8:])

    assert phone_normalize(text) == "7" + digits
    assert model_accepts(phone_normalize(text))


@given(digits=st.text(alphabet=string.digits, min_size=10, max_size=10), data=st.data())
def test_a_non_ascii_digit_is_never_taken(digits, data):
    position = data.draw(st.integers(min_value=0, max_value=10))
    phone = "7" + digits
    phone = phone[:position] + data.draw(st.sampled_from(NON_ASCII_DIGITS)) + phone[position + 1 :]

    assert not model_accepts(phone_normalize(phone))
