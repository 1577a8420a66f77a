"""The vendor field readers: each shortcut gives what the general path gives, and bad
values are protocol errors that name the service, the tool and the field."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from bite.clients._fields import Fields
from bite.errors import McpProtocolError
from hypothesis import given
from hypothesis import strategies as st

F = Fields("deribit")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_finite_float_reads_as_the_decimal_of_its_shortest_text(value: float) -> None:
    assert F.decimal(value, "ticker", "mark_price") == Decimal(str(value))


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**15), 10**15)))
def test_number_is_the_float_of_the_decimal_read(value: float | int) -> None:
    read = F.number(value, "ticker", "mark_iv")
    general = float(Decimal(str(value)))
    assert read == general
    assert math.copysign(1.0, read) == math.copysign(1.0, general)  # -0.0 stays -0.0
    assert type(read) is float


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "mark_iv is not finite"),
        (float("inf"), "mark_iv is not finite"),
        (None, "mark_iv missing or not a number"),
        (True, "mark_iv missing or not a number"),
        ("abc", "mark_iv is not a number: 'abc'"),
    ],
)
def test_a_bad_number_is_a_protocol_error_naming_the_field(value: Any, message: str) -> None:
    for read in (F.number, F.decimal):
        with pytest.raises(McpProtocolError) as caught:
            read(value, "ticker", "mark_iv")
        assert caught.value.service == "deribit"
        assert caught.value.tool == "ticker"
        assert message in str(caught.value)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=50))
def test_a_float_read_again_is_the_same_decimal_as_at_first(values: list[float]) -> None:
    fields = Fields("deribit")
    for value in values + values:  # each read twice: once kept, once found
        read = fields.decimal(value, "ticker", "mark_price")
        assert str(read) == str(Decimal(repr(value)))  # -0.0 stays "-0.0", 0.0 "0.0"


def test_the_floats_kept_are_bounded() -> None:
    fields = Fields("deribit")
    for k in range(10_000):
        fields.decimal(k + 0.5, "ticker", "mark_price")
    assert 0 < len(fields._floats) <= 4096
    assert fields.decimal(9_999.5, "ticker", "mark_price") == Decimal("9999.5")
