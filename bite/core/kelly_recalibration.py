"""Sizing fraction, edge and drawdown from the sample's trades (docs/strategy.md section 8)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from bite.config.schema import StrategyConfig
from bite.core.types import KellyEstimate, TradeOutcome

Z_90 = 1.645


def kelly_raw(rs: Sequence[float]) -> tuple[int, int, float | None, float | None, float | None]:
    """(wins, losses, p, b, f_raw) of R multiples; a zero counts as neither."""
    wins = [r for r in rs if r > 0]
    losses = [r for r in rs if r < 0]
    if not wins and not losses:
        return 0, 0, None, None, None
    p = len(wins) / (len(wins) + len(losses))
    if not wins:
        return 0, len(losses), p, None, -1.0
    if not losses:
        return len(wins), 0, p, None, p
    b = (sum(wins) / len(wins)) / (sum(-r for r in losses) / len(losses))
    return len(wins), len(losses), p, b, p - (1 - p) / b


def drawdown_pct(trades: Sequence[TradeOutcome]) -> float:
    """Current drop of the sample's cumulative realized P&L from its peak, in % of equity then."""
    if not trades:
        return 0.0
    first = trades[0]
    peak_equity = first.equity_eur_after - first.pnl_eur
    cumulative = Decimal(0)
    peak = Decimal(0)
    for trade in trades:
        cumulative += trade.pnl_eur
        if cumulative > peak:
            peak = cumulative
            peak_equity = trade.equity_eur_after
    if peak_equity <= 0:
        return 100.0 if cumulative < peak else 0.0
    return float((peak - cumulative) / peak_equity * 100)


def recalibrate_kelly(
    trades: Sequence[TradeOutcome], cfg: StrategyConfig, *, sample_start: datetime | None = None
) -> KellyEstimate:
    """Estimate the risk fraction, the edge and the drawdown of the current sample."""
    k = cfg.kelly
    in_sample = sorted(
        (t for t in trades if sample_start is None or t.closed_at >= sample_start),
        key=lambda t: t.closed_at,
    )
    window = in_sample[-k.lookback_trades :]
    rs = [t.r for t in window]
    n = len(rs)
    wins, losses, p, b, f_raw = kelly_raw(rs)
    why: list[str] = []
    if f_raw is None:
        f = k.prior_fraction
        why.append("no decided trade yet: the prior alone")
    else:
        f = (n * f_raw + k.prior_trades * k.prior_fraction) / (n + k.prior_trades)
        why.append(f"{n} trades shrunk toward the prior of {k.prior_trades}")
    risk = min(max(f * k.multiplier, k.risk_fraction_min), k.risk_fraction_max)
    mean_r = sd_r = upper = None
    if n >= 2:
        mean_r = sum(rs) / n
        sd_r = math.sqrt(sum((r - mean_r) ** 2 for r in rs) / (n - 1))
        upper = mean_r + Z_90 * sd_r / math.sqrt(n)
    negative_edge = n >= k.min_trades and upper is not None and upper < 0
    if negative_edge:
        why.append("upper end of the 90% interval of mean R is below zero")
    dd = drawdown_pct(in_sample)
    throttled = dd >= cfg.sizing.drawdown_throttle_pct
    halted = dd >= cfg.sizing.drawdown_halt_pct
    if throttled:
        risk /= 2
        why.append(f"drawdown {dd:.2f}% >= {cfg.sizing.drawdown_throttle_pct}%: fraction halved")
    if halted:
        why.append(f"drawdown {dd:.2f}% >= {cfg.sizing.drawdown_halt_pct}%: entries halted")
    return KellyEstimate(
        n=n,
        wins=wins,
        losses=losses,
        p=p,
        b=b,
        f_raw=f_raw,
        f=f,
        risk_fraction=risk,
        mean_r=mean_r,
        sd_r=sd_r,
        upper_mean_r_90=upper,
        drawdown_pct=dd,
        negative_edge=negative_edge,
        throttled=throttled,
        halted=halted,
        why=tuple(why),
    )
