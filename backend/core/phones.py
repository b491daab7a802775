"""Phone numbers: the one normaliser of every phone the platform takes (customers, useradd),
built on Google's libphonenumber (the `phonenumbers` package).

A phone is stored as `7XXXXXXXXXX`: the country code 7 and the ten digits of the national
number (Russia, and Kazakhstan, which shares the code). People write it in any usual way:
`+7 (912) 345-67-89`, `8 (912) 345-67-89` (the Russian trunk prefix), `7 912 345 67 89`,
`912 345-67-89`. A number libphonenumber's metadata does not know as valid is refused, and
so is any digit that is not an ASCII digit (DESIGN.md §4; libphonenumber would read them).
"""

import re

import phonenumbers
from django.core.exceptions import ValidationError

# The stored form, as the database's check constraints and the filters say it.
PHONE_PATTERN = r"^7[0-9]{10}$"
PHONE_FORMAT = "7XXXXXXXXXX"
INVALID_PHONE = "invalid_phone"
INVALID_PHONE_MESSAGE = (
    "Not a valid phone number: write it as +7 (912) 345-67-89 or 8 912 345-67-89 (it is kept as 7XXXXXXXXXX)."
)
COUNTRY_CODE = 7
DEFAULT_REGION = "RU"  # how a number written without +7 is read (8 912 ..., 912 ...)
# What a phone may be written with: ASCII digits, a leading plus, spaces, brackets, dots, dashes.
_WRITTEN = re.compile(r"\+?[0-9() .\-]+")


# The usual shapes, separators removed: +7 and ten digits, 7 or 8 (the trunk prefix) and ten
# digits, or the ten digits alone; the national number does not begin with 0.
_PLAIN = re.compile(r"(?:\+7|[78])?([1-9][0-9]{9})")
_SEPARATORS = str.maketrans("", "", " ().-")


def phone_normalize(value: str) -> str:
    """The stored form (`7XXXXXXXXXX`) of a phone number as written; raises ValidationError
    (code `invalid_phone`) for anything that is not a valid number of country code 7."""
    text = value.strip() if isinstance(value, str) else ""
    if not _WRITTEN.fullmatch(text):
        raise ValidationError(INVALID_PHONE_MESSAGE, code=INVALID_PHONE)
    # The usual shapes skip libphonenumber's parser (two thirds of the cost of a customer
    # import's row) but not its validity check; tests/test_phones proves both ways agree.
    plain = _PLAIN.fullmatch(text.translate(_SEPARATORS))
    if plain:
        number = phonenumbers.PhoneNumber(country_code=COUNTRY_CODE, national_number=int(plain.group(1)))
    else:
        number = _parsed(text)
    national = str(number.national_number)
    if number.country_code != COUNTRY_CODE or len(national) != 10 or not phonenumbers.is_valid_number(number):
        raise ValidationError(INVALID_PHONE_MESSAGE, code=INVALID_PHONE)
    return f"{COUNTRY_CODE}{national}"


def _parsed(text: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError(INVALID_PHONE_MESSAGE, code=INVALID_PHONE) from None


def validate_phone_stored_form(value: str) -> None:
    """Model and filter validator: only the stored form (PHONE_PATTERN, the whole value) passes."""
    if not isinstance(value, str) or not re.fullmatch(PHONE_PATTERN, value):
        raise ValidationError(f"A phone number is {PHONE_FORMAT} (11 digits).", code=INVALID_PHONE)
