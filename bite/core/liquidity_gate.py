"""Liquidity gate on the chosen legs (docs/strategy.md section 6)."""

from __future__ import annotations

from decimal import Decimal

from bite.config.schema import StrategyConfig
from bite.core.fees import round_trip_fee
from bite.core.types import GateResult, OptionQuote


def leg_spread_pct(quote: OptionQuote) -> float | None:
    """(ask - bid) / mid, or None when a side is empty."""
    if not (quote.has_bid and quote.has_ask) or quote.bid is None or quote.ask is None:
        return None
    mid = (quote.bid + quote.ask) / 2
    return float((quote.ask - quote.bid) / mid)


def check_liquidity(
    short: OptionQuote, long: OptionQuote, n: int, cfg: StrategyConfig, *, spot: Decimal
) -> GateResult:
    """Collect every liquidity reason for selling ``short`` and buying ``long``, n each."""
    lq = cfg.liquidity
    reasons: list[str] = []
    numbers: dict[str, float | str | None] = {"contracts": n}
    if not short.has_bid:
        reasons.append("no_bid")
    if not long.has_ask:
        reasons.append("no_ask")
    for leg_name, quote in (("short", short), ("long", long)):
        spread = leg_spread_pct(quote)
        numbers[f"{leg_name}_spread_pct"] = spread
        if spread is not None and spread > lq.max_leg_spread_pct:
            reasons.append("wide_spread")
        numbers[f"{leg_name}_open_interest"] = quote.open_interest
        if quote.open_interest < lq.min_open_interest:
            reasons.append("low_open_interest")
    touch = (short.bid or Decimal(0)) - (long.ask or Decimal(0))
    fees_rt = round_trip_fee(short.mid, long.mid, cfg.fees)
    net_usd = (touch - fees_rt) * spot
    numbers["net_credit_touch_usd"] = str(net_usd)
    if net_usd < lq.min_net_credit_usd:
        reasons.append("credit_too_small")
    unique = tuple(dict.fromkeys(reasons))
    return GateResult(passed=not unique, reasons=unique, numbers=tuple(numbers.items()))
