"""Strike selection: which expiry, short and long leg (docs/strategy.md section 4)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from bite.config.schema import StrategyConfig
from bite.core import pricing
from bite.core.combo_builder import ladder_bounds, required_credit
from bite.core.fees import round_trip_fee
from bite.core.types import OPTION_TYPE_FOR_BIAS, Bias, OptionQuote, StrikePair


def quote_delta(quote: OptionQuote, now: datetime) -> float:
    """The quote's delta: the broker's when given, else Black-76 from mark IV and forward."""
    if quote.greeks is not None:
        return quote.greeks.delta
    t = pricing.year_fraction(now, quote.expiry)
    return pricing.delta(
        quote.option_type, float(quote.forward), float(quote.strike), t, quote.mark_iv
    )


def is_otm(quote: OptionQuote) -> bool:
    """Out of the money against the expiry's forward."""
    if quote.option_type == "put":
        return quote.strike < quote.forward
    return quote.strike > quote.forward


def _further_otm(candidate: OptionQuote, short: OptionQuote) -> bool:
    if short.option_type == "put":
        return candidate.strike < short.strike
    return candidate.strike > short.strike


def candidate_expiries(
    chain: Iterable[OptionQuote], now: datetime, cfg: StrategyConfig
) -> list[datetime]:
    """Expiries with DTE in [dte_min, dte_max], nearest to dte_target first (ties: earlier)."""
    s = cfg.strikes
    expiries = {q.expiry for q in chain}
    inside = [x for x in expiries if s.dte_min <= (x - now).total_seconds() / 86400 <= s.dte_max]
    return sorted(inside, key=lambda x: (abs((x - now).total_seconds() / 86400 - s.dte_target), x))


def qualify_pair(
    short: OptionQuote,
    long: OptionQuote,
    spot: Decimal,
    now: datetime,
    cfg: StrategyConfig,
    short_delta: float,
) -> StrikePair | None:
    """The pair with its numbers if it meets the credit-to-width and ladder rules, else None."""
    width = abs(short.strike - long.strike)
    mid_credit = short.mid - long.mid
    fees_rt = round_trip_fee(short.mid, long.mid, cfg.fees)
    net = mid_credit - fees_rt
    ratio = float(net * spot / width)
    if ratio < cfg.strikes.min_credit_to_width:
        return None
    touch = (short.bid or Decimal(0)) - (long.ask or Decimal(0))
    need = required_credit(width, spot, fees_rt, cfg.strikes.min_credit_to_width)
    floor, top = ladder_bounds(touch, mid_credit, need, cfg.execution.combo_tick)
    if floor > top:
        return None
    return StrikePair(
        short=short,
        long=long,
        width_usd=width,
        mid_credit=mid_credit,
        touch_credit=touch,
        fees_round_trip=fees_rt,
        net_credit=net,
        credit_to_width=ratio,
        ladder_floor=floor,
        ladder_top=top,
        short_delta=short_delta,
        dte=short.dte(now),
    )


def select_strikes(
    chain: Sequence[OptionQuote], bias: Bias, spot: Decimal, now: datetime, cfg: StrategyConfig
) -> StrikePair | None:
    """The first qualifying pair by expiry, then short, then long; ``None`` is ``no_strike``."""
    s = cfg.strikes
    option_type = OPTION_TYPE_FOR_BIAS[bias]
    for expiry in candidate_expiries(chain, now, cfg):
        same = [q for q in chain if q.expiry == expiry and q.option_type == option_type]
        shorts: list[tuple[float, float, OptionQuote]] = []
        for q in same:
            if not (is_otm(q) and q.has_bid):
                continue
            d = abs(quote_delta(q, now))
            if s.short_delta_min <= d <= s.short_delta_max:
                # ties on delta distance go to the further OTM strike
                otm_key = float(q.strike) if option_type == "put" else -float(q.strike)
                shorts.append((abs(d - s.short_delta_target), otm_key, q))
        shorts.sort(key=lambda item: (item[0], item[1]))
        for _, _, short in shorts:
            short_delta = quote_delta(short, now)
            longs: list[tuple[float, Decimal, OptionQuote]] = []
            for q in same:
                if not (_further_otm(q, short) and q.has_ask):
                    continue
                width_pct = float(abs(short.strike - q.strike) / spot * 100)
                if s.width_min_pct <= width_pct <= s.width_max_pct:
                    longs.append(
                        (abs(width_pct - s.width_pct_of_spot), abs(short.strike - q.strike), q)
                    )
            longs.sort(key=lambda item: (item[0], item[1]))
            for _, _, long in longs:
                pair = qualify_pair(short, long, spot, now, cfg, short_delta)
                if pair is not None:
                    return pair
    return None
