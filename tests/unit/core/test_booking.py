"""Booking a spread's parts (docs/strategy.md 8, 10): partial exits and expiry add up.

The property: however a position's contracts are closed — in any number of partial
exits, with what is left expiring — the parts' P&L and fees add up to the trade
booked in one go, and R is one definition on the contracts that opened.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from bite.config.schema import FeesConfig
from bite.core.booking import (
    delivery_fees,
    entry_fee_share,
    exit_part,
    expiry_debit,
    expiry_part,
    intrinsic_eth,
    max_loss_usd,
    r_multiple,
    sizing_loss_opened,
)
from bite.core.kelly_recalibration import drawdown_pct
from bite.core.types import OptionType, TradeOutcome
from hypothesis import given
from hypothesis import strategies as st

FEES = FeesConfig()
D = Decimal
TOLERANCE = D("1e-18")

prices = st.decimals(min_value=D("0"), max_value=D("0.2"), places=4)
strikes = st.integers(min_value=1000, max_value=6000).map(D)
fee_amounts = st.decimals(min_value=D(0), max_value=D("0.01"), places=6)


@given(
    opened=st.integers(min_value=1, max_value=40),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=5),
    credit=prices,
    debits=st.lists(prices, min_size=6, max_size=6),
    exit_fees=st.lists(fee_amounts, min_size=6, max_size=6),
    entry_fees=st.decimals(min_value=D(0), max_value=D("0.05"), places=6),
    settle=strikes,
    short=strikes,
    width=st.integers(min_value=50, max_value=500).map(D),
    put=st.booleans(),
)  # fmt: skip
def test_partial_exits_and_expiry_add_up_to_the_whole(
    opened: int,
    cuts: list[int],
    credit: Decimal,
    debits: list[Decimal],
    exit_fees: list[Decimal],
    entry_fees: Decimal,
    settle: Decimal,
    short: Decimal,
    width: Decimal,
    put: bool,
) -> None:
    option_type: OptionType = "put" if put else "call"
    long = short - width if put else short + width
    closed = 0
    total_pnl = D(0)
    total_fees = D(0)
    expected = opened * credit - entry_fees
    for i, cut in enumerate(cuts):
        filled = min(cut, opened - closed)
        if filled == 0:
            break
        part = exit_part(
            filled, credit, debits[i], exit_fees[i],
            entry_fees_eth=entry_fees, opened=opened, closed_before=closed,
        )  # fmt: skip
        total_pnl += part.pnl_eth
        total_fees += part.fees_eth
        expected -= filled * debits[i] + exit_fees[i]
        closed += filled
    held = opened - closed
    if held:
        part, debit = expiry_part(
            held, credit, option_type, short, long, settle, FEES,
            entry_fees_eth=entry_fees, opened=opened, closed_before=closed,
        )  # fmt: skip
        delivery = held * delivery_fees(option_type, short, long, settle, FEES)
        assert debit == expiry_debit(option_type, short, long, settle)
        total_pnl += part.pnl_eth
        total_fees += part.fees_eth
        expected -= held * debit + delivery
    assert abs(total_pnl - expected) <= TOLERANCE
    spent_on_exits = sum(exit_fees[: len([c for c in cuts if c])], D(0))
    assert total_fees >= entry_fees - TOLERANCE
    assert total_fees <= entry_fees + spent_on_exits + opened * D("0.01") + TOLERANCE


@given(
    opened=st.integers(min_value=1, max_value=50),
    parts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=8),
    fees=st.decimals(min_value=D(0), max_value=D("1"), places=8),
)
def test_entry_fee_shares_add_up_to_the_entry_fees(
    opened: int, parts: list[int], fees: Decimal
) -> None:
    closed = 0
    total = D(0)
    for part in parts:
        take = min(part, opened - closed)
        total += entry_fee_share(fees, opened, closed, take)
        closed += take
    total += entry_fee_share(fees, opened, closed, opened - closed)
    assert abs(total - fees) <= TOLERANCE


def test_the_delivery_fee_is_charged_on_every_leg_in_the_money() -> None:
    # a bull put 2400/2200 delivered at 2000: both puts in the money
    both = delivery_fees("put", D(2400), D(2200), D(2000), FEES)
    short_only = delivery_fees("put", D(2400), D(2200), D(2300), FEES)
    none = delivery_fees("put", D(2400), D(2200), D(2500), FEES)
    per_leg = FEES.delivery_fee_pct / 100  # 0.015 % of one ETH, under the 12.5 % cap
    assert both == 2 * per_leg
    assert short_only == per_leg
    assert none == 0


def test_the_delivery_fee_is_capped_at_a_share_of_a_cheap_legs_value() -> None:
    # the long put barely in the money: 12.5 % of its value is below 0.015 % of the index
    fee = delivery_fees("put", D(2400), D(2200), D("2199.9"), FEES)
    long_value = intrinsic_eth("put", D(2200), D("2199.9"))
    assert fee == FEES.delivery_fee_pct / 100 + D("0.125") * long_value


def test_inverse_settlement_values_the_spread_in_eth() -> None:
    assert expiry_debit("put", D(2400), D(2200), D(2000)) == D(400) / D(2000) - D(200) / D(2000)
    assert expiry_debit("call", D(3150), D(3300), D(3000)) == 0
    with pytest.raises(ValueError, match="positive"):
        intrinsic_eth("put", D(2400), D(0))


def test_r_is_on_the_contracts_that_opened() -> None:
    # proposed 10 with a 1000 EUR sizing loss; 4 filled; the trade made 40 EUR
    assert sizing_loss_opened(D(1000), 10, 4) == D(400)
    assert r_multiple(D(40), D(1000), 10, 4) == pytest.approx(0.1)
    assert r_multiple(D(40), D(0), 10, 4) is None


def test_max_loss_at_the_fill_credit() -> None:
    # a bear call's credit offsets its loss above the long strike: more credit, less loss
    low = max_loss_usd("bear", D(150), D("0.010"), D(3300), D(5), 2)
    high = max_loss_usd("bear", D(150), D("0.020"), D(3300), D(5), 2)
    assert high < low
    assert max_loss_usd("bull", D(200), D("0.01"), D(2200), D(5), 3) == D(615)


def test_the_drawdown_after_an_expired_winner_is_not_a_100_percent_loss() -> None:
    """Equity carried from the last known close: a small loss is a small drawdown."""
    from datetime import UTC, datetime

    t0 = datetime(2026, 1, 2, tzinfo=UTC)
    trades = [
        TradeOutcome(t0, D(50), D(500), D(30000)),
        TradeOutcome(t0.replace(day=9), D(80), D(500), D(30080)),  # an expiry, equity carried
        TradeOutcome(t0.replace(day=16), D(-5), D(500), D(30080)),
    ]
    assert drawdown_pct(trades) == pytest.approx(5 / 30080 * 100)
