"""What a credit spread pays at expiry, and how far spot is from its short strike.

Deribit's ETH options are inverse: they settle in ETH at the delivery price S, a put
paying max(K - S, 0) / S ETH and a call max(S - K, 0) / S ETH per contract (one ETH).
A spread that took ``credit`` ETH per contract keeps the credit less what its short
leg pays plus what its long leg receives, before fees (docs/strategy.md 10).
"""

from __future__ import annotations

from decimal import Decimal

from bite.core.types import SpreadType


def leg_value_eth(option_type: str, strike: Decimal, settlement: Decimal) -> Decimal:
    """What one contract pays at a settlement price, in ETH."""
    if settlement <= 0:
        raise ValueError("the settlement price must be positive")
    intrinsic = strike - settlement if option_type == "put" else settlement - strike
    return max(intrinsic, Decimal(0)) / settlement


def spread_pnl_eth(
    spread_type: SpreadType,
    short_strike: Decimal,
    long_strike: Decimal,
    credit_eth: Decimal,
    contracts: int,
    settlement: Decimal,
) -> Decimal:
    """The spread's P&L at expiry in ETH (before fees): credit less the short's payout
    plus the long's."""
    option_type = "put" if spread_type == "bull_put" else "call"
    paid = leg_value_eth(option_type, short_strike, settlement) - leg_value_eth(
        option_type, long_strike, settlement
    )
    return (credit_eth - paid) * contracts


def short_strike_distance_pct(
    spread_type: SpreadType, short_strike: Decimal, spot: Decimal
) -> Decimal:
    """How far spot is from the short strike, in % of spot: positive while the short leg
    is out of the money (spot above a put's strike, below a call's), negative past it."""
    if spot <= 0:
        raise ValueError("spot must be positive")
    gap = spot - short_strike if spread_type == "bull_put" else short_strike - spot
    return gap / spot * 100
