"""The collateral hedge's arithmetic (docs/strategy.md 14): pure, in ``Decimal``.

The account's collateral is ETH, so its USD value moves with ETH. ``ETH-PERPETUAL`` is
inverse: a contract is 1 USD, its P&L and margin are in ETH (Deribit's contract
specification of the perpetual). A short of N contracts opened at S0 gains
N x (1/S1 - 1/S0) ETH when the price goes to S1, so an account of E ETH holding it is
worth (E + N/S1 - N/S0) x S1 USD; with N = E x S0 that is E x S0 whatever S1 is: the
short, rebalanced, holds the account's USD value still. ``collateral_and_options``
also offsets the open spread's delta (a bull put is long ETH).

The perpetual's margin follows Deribit's documented rule for ETH futures under standard
margin (support.deribit.com, "11 January 2022", article 25944826427293): initial 2 % +
0.0004 % per ETH of position, maintenance 1 % + 0.0004 % per ETH, of the position in ETH.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Literal

HedgeTarget = Literal["collateral", "collateral_and_options"]
HedgeSide = Literal["buy", "sell"]

CONTRACT_USD = Decimal(1)  # ETH-PERPETUAL: 1 USD a contract
# Deribit's fee schedule for BTC and ETH perpetuals: taker 0.05 % of the notional
# (support.deribit.com, "Fees", article 25944746248989)
PERPETUAL_TAKER_FEE = Decimal("0.0005")


@dataclass(frozen=True)
class PerpQuote:
    """The perpetual's ticker: index, mark and touch (USD), the funding rate."""

    instrument_name: str
    index: Decimal
    mark: Decimal
    bid: Decimal
    ask: Decimal
    funding_8h: Decimal  # the 8-hour rate: longs pay shorts when positive


@dataclass(frozen=True)
class PerpPosition:
    """What the account holds on the perpetual: ``size_usd`` negative when short."""

    instrument_name: str
    size_usd: Decimal
    average_price: Decimal
    floating_pnl_eth: Decimal
    realized_pnl_eth: Decimal
    realized_funding_eth: Decimal  # received; negative when paid
    initial_margin_eth: Decimal


def funding_cost_pct_per_year(funding_8h: Decimal) -> Decimal:
    """What a short pays a year at an 8-hour rate, in % of its notional (negative: it
    earns). Shorts pay when the rate is negative."""
    return -funding_8h * 3 * 365 * 100


@dataclass(frozen=True)
class HedgeOrder:
    """One order on the perpetual: ``amount_usd`` contracts of 1 USD, and its cost."""

    side: HedgeSide
    amount_usd: Decimal
    target_short_usd: Decimal
    drift_usd: Decimal
    fee_eth: Decimal


def target_short_usd(
    equity_eth: Decimal, spot: Decimal, spread_delta_eth: Decimal, target: HedgeTarget
) -> Decimal:
    """The short the hedge wants, in USD contracts (never a long: 0 at the least)."""
    exposure = equity_eth + (spread_delta_eth if target == "collateral_and_options" else 0)
    short = (exposure * spot / CONTRACT_USD).quantize(Decimal(1), ROUND_HALF_EVEN)
    return max(short, Decimal(0)) * CONTRACT_USD


def rebalance(
    target_usd: Decimal,
    short_usd: Decimal,
    equity_eth: Decimal,
    spot: Decimal,
    band_pct: Decimal,
    max_order_usd: Decimal,
) -> HedgeOrder | None:
    """The order that brings the short towards its target, or None inside the band.

    ``short_usd`` is the short held now (positive). The band is a share of the
    account's value (``band_pct`` % of equity x spot): inside it nothing is sent, so
    the hedge trades rarely. An order is at most ``max_order_usd`` and whole
    contracts, rounded towards zero: it never overshoots the target.
    """
    drift = target_usd - short_usd
    if abs(drift) <= band_pct / 100 * equity_eth * spot:
        return None
    size = min(abs(drift), max_order_usd)
    amount = (size / CONTRACT_USD).to_integral_value(ROUND_DOWN) * CONTRACT_USD
    if amount <= 0:
        return None
    return HedgeOrder(
        side="sell" if drift > 0 else "buy",
        amount_usd=amount,
        target_short_usd=target_usd,
        drift_usd=drift,
        fee_eth=order_fee_eth(amount, spot),
    )


# Deribit's ETH futures margin under standard margin (the 11 January 2022 change)
INITIAL_MARGIN_BASE = Decimal("0.02")
MAINTENANCE_MARGIN_BASE = Decimal("0.01")
MARGIN_INCREASE_PER_ETH = Decimal("0.000004")  # 0.0004 % per ETH of position


def perpetual_margins_eth(size_usd: Decimal, mark: Decimal) -> tuple[Decimal, Decimal]:
    """(initial, maintenance) margin in ETH of a perpetual position of ``size_usd``
    contracts (either sign) at ``mark``: a rate that grows with the position's size in
    ETH, times that size."""
    position_eth = abs(size_usd) * CONTRACT_USD / mark
    increase = position_eth * MARGIN_INCREASE_PER_ETH
    return (
        position_eth * (INITIAL_MARGIN_BASE + increase),
        position_eth * (MAINTENANCE_MARGIN_BASE + increase),
    )


def order_fee_eth(amount_usd: Decimal, spot: Decimal) -> Decimal:
    """A taker order's fee in ETH: the notional in ETH times the taker rate."""
    return amount_usd / spot * PERPETUAL_TAKER_FEE


def account_value_usd(
    equity_eth: Decimal, short_usd: Decimal, opened_at: Decimal, spot: Decimal
) -> Decimal:
    """The account's USD value at ``spot``: the collateral, plus the short's P&L in ETH
    (inverse: short_usd x (1/spot - 1/opened_at)), at ``spot``."""
    pnl_eth = short_usd * (1 / spot - 1 / opened_at)
    return (equity_eth + pnl_eth) * spot
