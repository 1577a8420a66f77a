"""The spread's payoff at expiry (the dashboard's payoff diagram) and the strike distance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bite.core.combo_builder import breakeven
from bite.core.payoff import leg_value_eth, short_strike_distance_pct, spread_pnl_eth
from bite.core.types import SpreadType
from hypothesis import assume, given
from hypothesis import strategies as st

D = Decimal


def test_a_put_pays_its_intrinsic_value_in_eth_and_nothing_above_its_strike() -> None:
    assert leg_value_eth("put", D(2500), D(2000)) == D("0.25")
    assert leg_value_eth("put", D(2500), D(2600)) == 0
    assert leg_value_eth("call", D(3000), D(4000)) == D("0.25")
    with pytest.raises(ValueError, match="positive"):
        leg_value_eth("put", D(2500), D(0))


def test_a_bull_put_keeps_its_credit_above_the_short_and_loses_at_most_the_width() -> None:
    def pnl(settlement: Decimal) -> Decimal:
        return spread_pnl_eth("bull_put", D(2500), D(2300), D("0.01"), 3, settlement)

    assert pnl(D(3000)) == D("0.03")
    # below the long strike: the width in USD, paid in ETH at the settlement price
    assert pnl(D(2000)) == (D("0.01") - D(200) / D(2000)) * 3


@given(
    short=st.integers(1500, 4000),
    width=st.integers(1, 8).map(lambda k: k * 50),
    credit=st.integers(10, 300).map(lambda c: D(c) / 10000),
    bull=st.booleans(),
)
def test_the_payoff_is_zero_at_the_breakeven_the_proposal_reports(
    short: int, width: int, credit: Decimal, bull: bool
) -> None:
    spread: SpreadType = "bull_put" if bull else "bear_call"
    long = D(short - width) if bull else D(short + width)
    at = breakeven("bull" if bull else "bear", D(short), credit)
    assume(abs(at - D(short)) < width)  # a credit above the width has no breakeven inside it
    assert abs(spread_pnl_eth(spread, D(short), long, credit, 1, at)) < D("1e-20")


def test_the_distance_is_positive_while_the_short_leg_is_out_of_the_money() -> None:
    assert short_strike_distance_pct("bull_put", D(2500), D(3125)) == D(20)
    assert short_strike_distance_pct("bull_put", D(2500), D(2000)) == D(-25)
    assert short_strike_distance_pct("bear_call", D(3300), D(3000)) == D(10)
    with pytest.raises(ValueError, match="positive"):
        short_strike_distance_pct("bear_call", D(3300), D(0))
