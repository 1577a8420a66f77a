"""Deribit's standard margin for a short option, the sizing fallback (docs/strategy.md 5)."""

from __future__ import annotations

from decimal import Decimal

from bite.core.types import OptionQuote

_BASE = Decimal("0.15")
_FLOOR = Decimal("0.1")


def short_option_initial_margin(quote: OptionQuote, underlying: Decimal) -> Decimal:
    """Initial margin in ETH per contract: max(0.15 - OTM / underlying, 0.1) + mark."""
    if quote.option_type == "put":
        otm = max(underlying - quote.strike, Decimal(0))
    else:
        otm = max(quote.strike - underlying, Decimal(0))
    return max(_BASE - otm / underlying, _FLOOR) + quote.mark


def spread_initial_margin(short: OptionQuote, underlying: Decimal) -> Decimal:
    """A vertical under standard margin: the short leg alone (the long does not offset it)."""
    return short_option_initial_margin(short, underlying)
