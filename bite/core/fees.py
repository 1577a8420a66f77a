"""Deribit option fees (docs/strategy.md 0): per leg, the combo single-leg rule, the round trip."""

from __future__ import annotations

from decimal import Decimal

from bite.config.schema import FeesConfig


def leg_fee(price: Decimal, fees: FeesConfig) -> Decimal:
    """One leg's trading fee per contract: ``option_fee_eth`` capped at a share of its price."""
    cap = Decimal(str(fees.option_fee_cap_pct)) / 100 * max(price, Decimal(0))
    return min(fees.option_fee_eth, cap)


def combo_fee(short_price: Decimal, long_price: Decimal, fees: FeesConfig) -> Decimal:
    """One combo trade's fee per contract; the cheaper side is waived for a vertical."""
    short_fee = leg_fee(short_price, fees)
    long_fee = leg_fee(long_price, fees)
    if fees.combo_single_leg_fee:
        return max(short_fee, long_fee)
    return short_fee + long_fee


def round_trip_fee(short_price: Decimal, long_price: Decimal, fees: FeesConfig) -> Decimal:
    """Entry plus exit combo fees per contract, estimated at today's leg prices."""
    return 2 * combo_fee(short_price, long_price, fees)


def delivery_fee(
    underlying_usd: Decimal, option_value_eth: Decimal, settlement_usd: Decimal, fees: FeesConfig
) -> Decimal:
    """The delivery fee per contract in ETH when a leg is held to expiry."""
    if settlement_usd <= 0:
        return Decimal(0)
    share = fees.delivery_fee_pct / 100 * underlying_usd / settlement_usd
    cap = Decimal(str(fees.option_fee_cap_pct)) / 100 * max(option_value_eth, Decimal(0))
    return min(share, cap)
