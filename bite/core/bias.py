"""Trend bias: bull, bear or none (docs/strategy.md section 3)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from bite.config.schema import BiasConfig
from bite.core.indicators import ema, pct_return
from bite.core.types import BiasAssessment, DailyClose


def assess_bias(
    spot: Decimal, closes: Sequence[DailyClose], funding_annual_pct: float | None, cfg: BiasConfig
) -> BiasAssessment:
    """Read the bias from the completed daily closes, spot and funding, with the numbers."""
    window = list(closes)[-cfg.history_days :]
    values = [float(c.close) for c in window]
    ema_fast = ema(values, cfg.ema_fast_days)
    ema_slow = ema(values, cfg.ema_slow_days)
    ret_7d = pct_return(spot, window[-7].close) if len(window) >= 7 else None

    def result(bias: Literal["bull", "bear"] | None, *reasons: str) -> BiasAssessment:
        return BiasAssessment(
            bias=bias,
            spot=spot,
            ema_fast=ema_fast,
            ema_slow=ema_slow,
            return_7d_pct=ret_7d,
            funding_annual_pct=funding_annual_pct,
            reasons=reasons,
        )

    if len(window) < cfg.history_days or ema_fast is None or ema_slow is None or ret_7d is None:
        return result(None, "no_bias", "short_history")
    if funding_annual_pct is None:
        return result(None, "no_bias", "funding_unknown")
    price = float(spot)
    limit_ret = cfg.max_counter_return_7d_pct
    limit_fund = cfg.funding_overheated_annual_pct
    if price > ema_fast > ema_slow and ret_7d > -limit_ret and funding_annual_pct < limit_fund:
        return result("bull")
    if price < ema_fast < ema_slow and ret_7d < limit_ret and funding_annual_pct > -limit_fund:
        return result("bear")
    return result(None, "no_bias")


def compute_bias(
    spot: Decimal, closes: Sequence[DailyClose], funding_annual_pct: float | None, cfg: BiasConfig
) -> Literal["bull", "bear"] | None:
    """Return the bias alone (see :func:`assess_bias` for the numbers)."""
    return assess_bias(spot, closes, funding_annual_pct, cfg).bias
