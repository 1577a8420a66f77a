"""Indicators over daily closes: EMA, returns and realized volatility (docs/strategy.md 2-3)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal


def ema(values: Sequence[float], span: int) -> float | None:
    """Recursive EMA with alpha = 2 / (span + 1), seeded with the SMA of the first ``span``."""
    if span < 1 or len(values) < span:
        return None
    alpha = 2.0 / (span + 1)
    level = sum(values[:span]) / span
    for value in values[span:]:
        level = alpha * value + (1 - alpha) * level
    return level


def pct_return(now: Decimal, then: Decimal) -> float:
    """The simple return from ``then`` to ``now`` in percent."""
    return float(now / then - 1) * 100


def realized_vol_pct(closes: Sequence[Decimal], days: int = 10) -> float | None:
    """Annualized realized vol in percent: sample sd (n - 1) of the last ``days`` log returns.

    Scaled by sqrt(365): crypto trades every calendar day.
    """
    if days < 2 or len(closes) < days + 1:
        return None
    tail = [float(c) for c in closes[-(days + 1) :]]
    if any(c <= 0 for c in tail):
        return None
    rets = [math.log(tail[i + 1] / tail[i]) for i in range(days)]
    mean = sum(rets) / days
    var = sum((r - mean) ** 2 for r in rets) / (days - 1)
    return math.sqrt(var) * math.sqrt(365) * 100
