"""Market-data anomaly predicates (docs/strategy.md section 11).

Clients call these on every value they parse; the job raises or drops as the
spec says. Each returns the reasons found (empty: the value is plausible).
"""

from __future__ import annotations

from decimal import Decimal

from bite.config.schema import AnomalyConfig
from bite.core.types import OptionQuote


def iv_anomalies(iv_pct: float, cfg: AnomalyConfig) -> tuple[str, ...]:
    """A mark IV outside [iv_min, iv_max] percent."""
    if not cfg.iv_min <= iv_pct <= cfg.iv_max:
        return ("iv_out_of_range",)
    return ()


def quote_anomalies(quote: OptionQuote, cfg: AnomalyConfig) -> tuple[str, ...]:
    """Everything implausible about one option quote."""
    found: list[str] = list(iv_anomalies(quote.mark_iv, cfg))
    prices = [p for p in (quote.bid, quote.ask, quote.mark) if p is not None]
    if any(p < 0 for p in prices):
        found.append("negative_price")
    if (
        quote.bid is not None
        and quote.ask is not None
        and quote.has_bid
        and quote.has_ask
        and quote.bid > quote.ask
    ):
        found.append("bid_above_ask")
    if quote.forward <= 0:
        found.append("forward_not_positive")
    else:
        ceiling = Decimal(1) if quote.option_type == "call" else quote.strike / quote.forward
        if any(p > ceiling for p in prices):
            found.append("price_above_bound")
    return tuple(found)


def dvol_anomalies(dvol: float, cfg: AnomalyConfig) -> tuple[str, ...]:
    """A DVOL outside [dvol_min, dvol_max]; below 2 it was surely a fraction: never rescaled."""
    if dvol < 2:
        return ("dvol_fraction",)
    if not cfg.dvol_min <= dvol <= cfg.dvol_max:
        return ("dvol_out_of_range",)
    return ()


def index_anomalies(index: Decimal) -> tuple[str, ...]:
    """An index price that is not positive."""
    return ("index_not_positive",) if index <= 0 else ()


def spot_jump_anomalies(
    spot: Decimal, last_spot: Decimal | None, cfg: AnomalyConfig
) -> tuple[str, ...]:
    """Spot moved more than ``max_spot_jump_pct`` from the last snapshot of the past 24 h."""
    if last_spot is None or last_spot <= 0:
        return ()
    move = abs(float(spot / last_spot - 1)) * 100
    return ("spot_jump",) if move > cfg.max_spot_jump_pct else ()
