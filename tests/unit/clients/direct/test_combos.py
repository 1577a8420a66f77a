"""The combo orientation rules: whichever way a book points, our side and price survive."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bite.clients.direct.combos import (
    contract_price,
    deribit_order,
    orientation,
    short_first,
)
from bite.clients.direct.jsonrpc import RpcError
from hypothesis import given
from hypothesis import strategies as st

SHORT, LONG = "ETH-5DEC25-2400-P", "ETH-5DEC25-2200-P"


@given(
    side=st.sampled_from(["sell", "buy"]),
    price=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1"), places=4),
    orient=st.sampled_from([1, -1]),
)
def test_an_order_sent_either_way_reads_back_as_it_was_meant(
    side: str, price: Decimal, orient: int
) -> None:
    direction, combo_price = deribit_order(side, price, orient)
    assert direction == ("buy" if orient == 1 else "sell")
    assert contract_price(direction, combo_price) == (side, price)


def test_a_credit_on_a_book_our_way_is_bought_at_a_negative_price() -> None:
    assert deribit_order("sell", Decimal("0.0085"), 1) == ("buy", Decimal("-0.0085"))
    assert deribit_order("sell", Decimal("0.0085"), -1) == ("sell", Decimal("0.0085"))


@pytest.mark.parametrize(
    ("legs", "wanted", "expected"),
    [
        ([(SHORT, -1), (LONG, 1)], {SHORT: "sell", LONG: "buy"}, 1),
        ([(SHORT, 1), (LONG, -1)], {SHORT: "sell", LONG: "buy"}, -1),
        ([(SHORT, 1), (LONG, -1)], {SHORT: "buy", LONG: "sell"}, 1),  # an exit
    ],
)
def test_the_orientation_is_read_from_the_books_legs(
    legs: list[tuple[str, int]], wanted: dict[str, str], expected: int
) -> None:
    assert orientation(legs, wanted) == expected


def test_a_book_matching_neither_direction_is_refused() -> None:
    with pytest.raises(RpcError):
        orientation([(SHORT, 1), (LONG, 1)], {SHORT: "sell", LONG: "buy"})


def test_the_short_leg_is_the_strike_nearer_the_money() -> None:
    assert short_first([(LONG, 1), (SHORT, -1)])[0][0] == SHORT  # puts: the higher strike
    calls = [("ETH-5DEC25-3300-C", 1), ("ETH-5DEC25-3150-C", -1)]
    assert short_first(calls)[0][0] == "ETH-5DEC25-3150-C"  # calls: the lower strike
