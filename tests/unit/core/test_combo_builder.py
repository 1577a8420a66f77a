"""The combo proposal and its entry ladder (strategy.md 7)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bite.core.combo_builder import (
    breakeven,
    build_proposal,
    entry_ladder,
    ladder_bounds,
    proposal_label,
    required_credit,
)
from bite.core.fees import round_trip_fee
from bite.core.ticks import is_on_tick
from hypothesis import given
from hypothesis import strategies as st

from tests.support import NOW, cfg, d, quote, sample_proposal

CFG = cfg()
TICK = Decimal("0.0001")


def test_proposal_holds_legs_label_and_numbers() -> None:
    p = sample_proposal()
    assert p.label == "bite-p-1"
    assert (p.short.direction, p.long.direction) == ("sell", "buy")
    assert p.short.amount == p.long.amount == p.contracts == 3
    assert p.width_usd == d(150)
    assert p.spread_type == "bull_put"
    # mid credit 0.0125 - 0.00625 = 0.00625 -> top rounds down to 0.0062
    assert p.ladder_top == d("0.0062")
    assert p.ladder[0] == p.ladder_top
    assert p.ladder[-1] == p.ladder_floor
    assert len(p.ladder) == CFG.execution.reprice_steps + 1
    assert p.credit_usd == p.credit_eth * d(3000)
    assert p.credit_eur == p.credit_eth * d(3000) / d("1.10")


def test_bull_put_sizing_and_max_loss_are_width_plus_fees() -> None:
    p = sample_proposal(n=2)
    fees_usd = p.fees_round_trip_eth * p.spot
    assert p.max_loss_usd == (p.width_usd + fees_usd) * 2
    assert p.sizing_loss_usd == (p.width_usd + fees_usd) * 2


def test_bear_call_max_loss_subtracts_the_credit_at_the_long_strike() -> None:
    p = sample_proposal(n=1, bias="bear")
    fees_usd = p.fees_round_trip_eth * p.spot
    assert p.max_loss_usd == p.width_usd - p.credit_eth * d(3350) + fees_usd
    assert p.sizing_loss_usd == p.width_usd + fees_usd
    assert p.max_loss_usd < p.sizing_loss_usd


def test_proposal_net_greeks_are_short_minus_long() -> None:
    p = sample_proposal(n=2)
    assert p.greeks.delta == pytest.approx(-2 * -0.2 + 2 * -0.11)


def test_label_longer_than_64_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="64"):
        proposal_label("x" * 60)


def test_proposal_refuses_a_pair_whose_floor_is_above_the_mid() -> None:
    short = quote(2800, "put", bid="0.0010", ask="0.0100")
    long = quote(2650, "put", bid="0.0009", ask="0.0010")
    with pytest.raises(ValueError, match="floor"):
        build_proposal(short, long, 1, d(3000), NOW, "p", CFG, eur_usd=d(1))


prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.2"), places=4)


@given(touch=prices, extra=prices, need=prices, steps=st.integers(1, 10))
def test_every_entry_ladder_price_is_on_the_tick_within_floor_and_top(
    touch: Decimal, extra: Decimal, need: Decimal, steps: int
) -> None:
    mid = touch + extra / 2 + Decimal("0.00005")
    floor, top = ladder_bounds(touch, mid, need, TICK)
    ladder = entry_ladder(floor, top, steps, TICK)
    if floor > top:
        assert ladder == ()
        return
    assert len(ladder) == steps + 1
    assert ladder[0] == top
    assert ladder[-1] == floor
    for price in ladder:
        assert is_on_tick(price, TICK)
        assert floor <= price <= top
        assert price >= max(touch, need)
    assert list(ladder) == sorted(ladder, reverse=True)


@given(
    short_strike=st.integers(1000, 6000),
    credit=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.2"), places=4),
    bias=st.sampled_from(["bull", "bear"]),
)
def test_breakeven_is_exact_for_inverse_settlement(
    short_strike: int, credit: Decimal, bias: str
) -> None:
    k = Decimal(short_strike)
    s = breakeven(bias, k, credit)  # type: ignore[arg-type]
    # the short leg's payoff in ETH at S_T = breakeven equals the credit received
    intrinsic = (k - s) if bias == "bull" else (s - k)
    assert intrinsic > 0
    assert abs(intrinsic / s - credit) < Decimal("1e-20")


def test_required_credit_is_the_credit_rule_plus_fees() -> None:
    fees = round_trip_fee(d("0.0125"), d("0.00625"), CFG.fees)
    assert fees == d("0.0006")
    assert required_credit(d(150), d(3000), fees, 0.10) == d("0.005") + d("0.0006")
