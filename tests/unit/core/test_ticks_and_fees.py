"""Tick rounding with Decimal, and Deribit's fees (strategy.md 0)."""

from __future__ import annotations

from decimal import Decimal

from bite.core.fees import combo_fee, delivery_fee, leg_fee, round_trip_fee
from bite.core.ticks import (
    is_on_schedule,
    is_on_tick,
    largest_below,
    round_down,
    round_down_on,
    round_up,
    round_up_on,
)
from bite.core.types import DERIBIT_ETH_OPTION_TICKS
from hypothesis import given
from hypothesis import strategies as st

from tests.support import cfg, d

FEES = cfg().fees


def test_tick_steps_apply_from_their_price_up() -> None:
    assert DERIBIT_ETH_OPTION_TICKS.tick_at(d("0.0049")) == d("0.0001")
    assert DERIBIT_ETH_OPTION_TICKS.tick_at(d("0.005")) == d("0.0005")
    assert round_down_on(d("0.00537"), DERIBIT_ETH_OPTION_TICKS) == d("0.0050")
    assert round_up_on(d("0.00537"), DERIBIT_ETH_OPTION_TICKS) == d("0.0055")
    assert round_up_on(d("0.00495"), DERIBIT_ETH_OPTION_TICKS) == d("0.0050")
    assert round_down_on(d("0.00495"), DERIBIT_ETH_OPTION_TICKS) == d("0.0049")


def test_largest_below_is_strictly_below() -> None:
    assert largest_below(d("0.05"), d("0.0001")) == d("0.0499")
    assert largest_below(d("0.05003"), d("0.0001")) == d("0.0500")


prices = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("2"), places=6)


@given(prices)
def test_rounding_lands_on_the_grid_on_the_right_side(price: Decimal) -> None:
    tick = d("0.0001")
    down, up = round_down(price, tick), round_up(price, tick)
    assert is_on_tick(down, tick) and is_on_tick(up, tick)
    assert down <= price <= up
    assert up - down in (0, tick)
    on_down = round_down_on(price, DERIBIT_ETH_OPTION_TICKS)
    on_up = round_up_on(price, DERIBIT_ETH_OPTION_TICKS)
    assert is_on_schedule(on_down, DERIBIT_ETH_OPTION_TICKS)
    assert is_on_schedule(on_up, DERIBIT_ETH_OPTION_TICKS)
    assert on_down <= price <= on_up


def test_leg_fee_is_capped_at_a_share_of_a_cheap_leg() -> None:
    assert leg_fee(d("0.01"), FEES) == d("0.0003")
    assert leg_fee(d("0.0001"), FEES) == d("0.0000125")


def test_a_vertical_combo_pays_one_legs_fee() -> None:
    assert combo_fee(d("0.012"), d("0.006"), FEES) == d("0.0003")
    assert round_trip_fee(d("0.012"), d("0.006"), FEES) == d("0.0006")
    both = cfg(fees={"combo_single_leg_fee": False}).fees
    assert combo_fee(d("0.012"), d("0.0016"), both) == d("0.0003") + d("0.0002")


def test_delivery_fee_is_a_share_of_the_underlying_capped_by_the_value() -> None:
    assert delivery_fee(d(3000), d("0.05"), d(3000), FEES) == d("0.00015")
    assert delivery_fee(d(3000), d("0.0008"), d(3000), FEES) == d("0.0001")
