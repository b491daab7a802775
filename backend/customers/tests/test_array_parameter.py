"""The one-parameter text arrays of the customer import: what goes in comes out of PostgreSQL."""

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.services import ARRAY_PARAMETER, _array_parameter

pytestmark = pytest.mark.django_db

# What an import's keys are made of: any text but line breaks (refused in rows before), never empty.
values = st.lists(st.text(st.characters(exclude_characters="\n\x00", codec="utf-8"), min_size=1), max_size=30)


@settings(max_examples=200, deadline=None)
@given(values)
def test_an_array_parameter_reaches_postgresql_unchanged(given_values):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {ARRAY_PARAMETER}", [_array_parameter(given_values)])
        assert cursor.fetchone()[0] == given_values


@pytest.mark.parametrize("bad", [["a\nb"], [""], ["a", "b\n"]])
def test_a_value_that_would_split_or_vanish_is_refused(bad):
    with pytest.raises(ValueError, match="line break or is empty"):
        _array_parameter(bad)
