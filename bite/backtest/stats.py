"""What a trader reads of a backtest: pure functions of its trades and equity rows.

R is a trade's realized EUR over its sizing loss (docs/strategy.md 8), so
expectancy in R judges a rule apart from how much was staked on it. The 95 %
interval of the expectancy is a percentile bootstrap, seeded, so a report is
reproducible to the digit.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from datetime import date, datetime, timedelta

BOOTSTRAP_SAMPLES = 2000


def hit_rates(rs: Sequence[float]) -> tuple[float | None, float | None]:
    """(hit rate, break-even hit rate): the share of winning trades, and the share the
    average win and average loss need to break even: |loss| / (win + |loss|)."""
    if not rs:
        return None, None
    wins = [r for r in rs if r > 0]
    losses = [r for r in rs if r < 0]
    hit = len(wins) / len(rs)
    if not wins or not losses:
        return hit, None
    win, loss = statistics.fmean(wins), abs(statistics.fmean(losses))
    return hit, loss / (win + loss)


def bootstrap_mean_ci(
    values: Sequence[float], seed: int, samples: int = BOOTSTRAP_SAMPLES
) -> tuple[float, float] | None:
    """The 95 % percentile-bootstrap interval of the mean (seeded; None under two values)."""
    if len(values) < 2:
        return None
    rng = random.Random(seed)  # noqa: S311 - a statistic, not a secret
    n = len(values)
    means = sorted(
        statistics.fmean(values[rng.randrange(n)] for _ in range(n)) for _ in range(samples)
    )
    return means[int(0.025 * samples)], means[int(0.975 * samples) - 1]


def max_drawdown(values: Sequence[float]) -> float:
    """The largest fall from a running peak (in the values' unit; 0 for a rising series)."""
    peak, worst = -math.inf, 0.0
    for v in values:
        peak = max(peak, v)
        worst = max(worst, peak - v)
    return worst


def max_drawdown_pct(values: Sequence[float]) -> float:
    """The largest fall from a running peak, in percent of that peak."""
    peak, worst = 0.0, 0.0
    for v in values:
        peak = max(peak, v)
        if peak > 0:
            worst = max(worst, (peak - v) / peak * 100)
    return worst


def weekly_pnl(closes: Sequence[tuple[datetime, float]], start: date, end: date) -> list[float]:
    """Realized P&L per week (Monday to Sunday) from ``start`` to ``end``, weeks without a
    close counting 0: the series the weekly Sharpe and Sortino are taken of."""
    first = start - timedelta(days=start.weekday())
    weeks = (end - first).days // 7 + 1
    out = [0.0] * weeks
    for when, pnl in closes:
        k = (when.date() - first).days // 7
        if 0 <= k < weeks:
            out[k] += pnl
    return out


def sharpe(values: Sequence[float]) -> float | None:
    """Mean over standard deviation (per period, not annualized)."""
    if len(values) < 2:
        return None
    sd = statistics.stdev(values)
    return statistics.fmean(values) / sd if sd > 0 else None


def sortino(values: Sequence[float]) -> float | None:
    """Mean over the downside deviation (the root mean square of the losses, per period)."""
    if len(values) < 2:
        return None
    downside = math.sqrt(statistics.fmean(min(v, 0.0) ** 2 for v in values))
    return statistics.fmean(values) / downside if downside > 0 else None
