"""Black-76 on the expiry's forward, r = 0, as Deribit prices its options (docs/strategy.md 0).

Prices come out in ETH per contract (USD price / forward); delta is N(d1)
(puts N(d1) - 1), gamma per USD, vega USD per vol point, theta USD per
calendar day. Volatilities go in and out in percent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bite.core.types import Greeks, OptionType

SECONDS_PER_YEAR = 365 * 86400
_MIN_T = 1e-9
_SQRT_2PI = math.sqrt(2 * math.pi)


def year_fraction(now: datetime, expiry: datetime) -> float:
    """Time to expiry in 365-day years (never negative)."""
    return max((expiry - now).total_seconds() / SECONDS_PER_YEAR, 0.0)


def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / _SQRT_2PI


def _d1_d2(forward: float, strike: float, t: float, vol: float) -> tuple[float, float]:
    sd = vol * math.sqrt(t)
    d1 = (math.log(forward / strike) + 0.5 * sd * sd) / sd
    return d1, d1 - sd


def price_usd(
    option_type: OptionType, forward: float, strike: float, t: float, iv_pct: float
) -> float:
    """The Black-76 price in USD, r = 0."""
    intrinsic = max(forward - strike, 0.0) if option_type == "call" else max(strike - forward, 0.0)
    vol = iv_pct / 100.0
    if t <= _MIN_T or vol <= 0:
        return intrinsic
    d1, d2 = _d1_d2(forward, strike, t, vol)
    if option_type == "call":
        return forward * _cdf(d1) - strike * _cdf(d2)
    return strike * _cdf(-d2) - forward * _cdf(-d1)


def price_eth(
    option_type: OptionType, forward: float, strike: float, t: float, iv_pct: float
) -> float:
    """The Black-76 price in ETH per contract: the USD price divided by the forward."""
    return price_usd(option_type, forward, strike, t, iv_pct) / forward


def greeks(
    option_type: OptionType, forward: float, strike: float, t: float, iv_pct: float
) -> Greeks:
    """Delta, gamma, vega and theta in Deribit's units."""
    vol = iv_pct / 100.0
    if t <= _MIN_T or vol <= 0:
        itm = forward > strike if option_type == "call" else forward < strike
        delta = (1.0 if itm else 0.0) if option_type == "call" else (-1.0 if itm else 0.0)
        return Greeks(delta=delta)
    d1, _ = _d1_d2(forward, strike, t, vol)
    sqrt_t = math.sqrt(t)
    pdf = _pdf(d1)
    delta = _cdf(d1) if option_type == "call" else _cdf(d1) - 1.0
    gamma = pdf / (forward * vol * sqrt_t)
    vega = forward * pdf * sqrt_t / 100.0
    theta = -forward * pdf * vol / (2.0 * sqrt_t) / 365.0
    return Greeks(delta=delta, gamma=gamma, vega=vega, theta=theta)


def delta(option_type: OptionType, forward: float, strike: float, t: float, iv_pct: float) -> float:
    """Delta alone."""
    return greeks(option_type, forward, strike, t, iv_pct).delta


def implied_vol(
    option_type: OptionType,
    mark_eth: float,
    forward: float,
    strike: float,
    t: float,
    *,
    lo: float = 0.5,
    hi: float = 1000.0,
    tol: float = 1e-10,
) -> float | None:
    """Invert Black-76 from an ETH mark; ``None`` when no vol in [lo, hi] % reproduces it."""
    if t <= _MIN_T or mark_eth <= 0:
        return None
    target = mark_eth * forward
    low_price = price_usd(option_type, forward, strike, t, lo)
    high_price = price_usd(option_type, forward, strike, t, hi)
    if not low_price <= target <= high_price:
        return None
    a, b = lo, hi
    for _ in range(200):
        mid = 0.5 * (a + b)
        if price_usd(option_type, forward, strike, t, mid) < target:
            a = mid
        else:
            b = mid
        if b - a < tol:
            break
    return 0.5 * (a + b)


@dataclass(frozen=True)
class ParityPair:
    """A call and a put of one strike and expiry, marks in ETH."""

    strike: float
    call_mark: float
    put_mark: float


def forward_from_parity(
    pairs: Sequence[ParityPair], *, near: float | None = None, count: int = 5
) -> float | None:
    """The forward implied by put-call parity in ETH, ``C - P = (F - K) / F``.

    Uses the ``count`` strikes nearest ``near`` (default: the middle strike) and
    returns the median, so one stale pair cannot move it.
    """
    usable = [p for p in pairs if p.call_mark > 0 and p.put_mark > 0]
    if not usable:
        return None
    centre = near if near is not None else sorted(p.strike for p in usable)[len(usable) // 2]
    nearest = sorted(usable, key=lambda p: abs(p.strike - centre))[:count]
    estimates = sorted(
        p.strike / (1.0 - (p.call_mark - p.put_mark))
        for p in nearest
        if p.call_mark - p.put_mark < 1.0
    )
    if not estimates:
        return None
    mid = len(estimates) // 2
    if len(estimates) % 2:
        return estimates[mid]
    return 0.5 * (estimates[mid - 1] + estimates[mid])
