"""The collateral hedge's arithmetic (docs/strategy.md 14)."""

from __future__ import annotations

from decimal import Decimal

from bite.core.hedge import (
    PERPETUAL_TAKER_FEE,
    account_value_usd,
    order_fee_eth,
    perpetual_margins_eth,
    rebalance,
    target_short_usd,
)
from hypothesis import given, settings
from hypothesis import strategies as st

EQUITY = st.decimals(min_value="0.5", max_value="500", places=6)
SPOT = st.decimals(min_value="100", max_value="20000", places=2)
BAND = st.decimals(min_value="0.5", max_value="10", places=2)


@settings(max_examples=150)
@given(equity=EQUITY, opened=SPOT, moved=st.floats(min_value=0.1, max_value=10.0))
def test_a_short_at_its_target_holds_the_accounts_usd_value_whatever_spot_does(
    equity: Decimal, opened: Decimal, moved: float
) -> None:
    """N = E x S0 USD short: the account is worth E x S0 at any S1, but for the half
    contract of rounding (at most 0.5 x |1 - S1/S0| USD)."""
    short = target_short_usd(equity, opened, Decimal(0), "collateral")
    later = (opened * Decimal(str(moved))).quantize(Decimal("0.01"))
    value = account_value_usd(equity, short, opened, later)
    bound = Decimal("0.5") * abs(1 - later / opened) + Decimal("1e-9")
    assert abs(value - equity * opened) <= bound
    unhedged = account_value_usd(equity, Decimal(0), opened, later)
    assert unhedged == equity * later  # without it the value is the price of ETH


@settings(max_examples=150)
@given(
    equity=EQUITY,
    opened=SPOT,
    held=st.decimals(min_value="0", max_value="5000000", places=0),
    band=BAND,
    moved=st.floats(min_value=0.05, max_value=2.0),
)
def test_after_a_rebalance_the_value_moves_less_than_the_band_up_to_a_doubling(
    equity: Decimal, opened: Decimal, held: Decimal, band: Decimal, moved: float
) -> None:
    """Whatever short is held, after the rebalance (one order, no cap) the account's USD
    value moves by less than the band for any spot from a 95 % fall to a doubling."""
    target = target_short_usd(equity, opened, Decimal(0), "collateral")
    order = rebalance(target, held, equity, opened, band, Decimal("1e12"))
    short = held
    if order is not None:
        short = held + order.amount_usd if order.side == "sell" else held - order.amount_usd
        assert abs(target - short) < 1  # whole contracts, never past the target
    later = (opened * Decimal(str(moved))).quantize(Decimal("0.01"))
    change = account_value_usd(equity, short, opened, later) - account_value_usd(
        equity, short, opened, opened
    )
    assert abs(change) <= band / 100 * equity * opened + 1


@given(equity=EQUITY, spot=SPOT, held=st.decimals(min_value="0", max_value="5000000", places=0))
def test_an_order_is_whole_contracts_capped_on_the_right_side_and_never_overshoots(
    equity: Decimal, spot: Decimal, held: Decimal
) -> None:
    target = target_short_usd(equity, spot, Decimal(0), "collateral")
    cap = Decimal(2500)
    order = rebalance(target, held, equity, spot, Decimal(1), cap)
    drift = target - held
    if order is None:
        assert abs(drift) <= equity * spot / 100
        return
    assert order.amount_usd == order.amount_usd.to_integral_value()
    assert 1 <= order.amount_usd <= min(abs(drift), cap)
    assert order.side == ("sell" if drift > 0 else "buy")
    assert order.fee_eth == order.amount_usd / spot * PERPETUAL_TAKER_FEE


def test_inside_the_band_nothing_is_sent_and_the_spread_delta_joins_the_target() -> None:
    equity, spot = Decimal(10), Decimal(3000)
    assert target_short_usd(equity, spot, Decimal(0), "collateral") == 30000
    # a bull put is long ETH: the short grows by its delta
    assert target_short_usd(equity, spot, Decimal("0.4"), "collateral_and_options") == 31200
    assert target_short_usd(equity, spot, Decimal("0.4"), "collateral") == 30000
    # never a long: a delta larger than the collateral, short, asks for no short at all
    assert target_short_usd(equity, spot, Decimal(-12), "collateral_and_options") == 0
    band = Decimal(5)  # 5 % of 30,000 USD = 1,500 USD
    assert rebalance(Decimal(30000), Decimal(28500), equity, spot, band, Decimal(10**6)) is None
    order = rebalance(Decimal(30000), Decimal(28499), equity, spot, band, Decimal(10**6))
    assert order is not None and (order.side, order.amount_usd) == ("sell", Decimal(1501))
    capped = rebalance(Decimal(30000), Decimal(0), equity, spot, band, Decimal(10000))
    assert capped is not None and capped.amount_usd == 10000
    assert order_fee_eth(Decimal(3000), spot) == Decimal("0.0005")


def test_the_perpetuals_margin_is_deribits_rule_for_eth_futures() -> None:
    # 25 ETH of position at 2,000 USD: 2 % + 25 x 0.0004 % = 2.01 % initial, 1.01 % maintenance
    initial, maintenance = perpetual_margins_eth(Decimal(-50000), Decimal(2000))
    assert initial == Decimal(25) * Decimal("0.0201")
    assert maintenance == Decimal(25) * Decimal("0.0101")
    assert perpetual_margins_eth(Decimal(0), Decimal(2000)) == (Decimal(0), Decimal(0))


@given(
    size=st.integers(1, 10_000_000).map(Decimal),
    more=st.integers(1, 1_000_000).map(Decimal),
    mark=st.integers(100, 20_000).map(Decimal),
)
def test_margin_grows_faster_than_the_position(size: Decimal, more: Decimal, mark: Decimal) -> None:
    small, _ = perpetual_margins_eth(size, mark)
    large, _ = perpetual_margins_eth(size + more, mark)
    assert large / (size + more) > small / size  # the rate rises with the size
    assert perpetual_margins_eth(-size, mark) == perpetual_margins_eth(size, mark)
