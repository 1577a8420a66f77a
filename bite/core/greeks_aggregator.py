"""Net greeks of a position or a book (docs/strategy.md section 9)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bite.core.types import Greeks, PositionGreeks


@dataclass(frozen=True)
class SignedLeg:
    """A leg held: ``sign`` -1 short, +1 long; ``amount`` contracts; per-contract greeks."""

    sign: int
    amount: float
    greeks: Greeks


def aggregate_greeks(legs: Iterable[SignedLeg]) -> PositionGreeks:
    """Sum of sign x amount x greek over the legs."""
    delta = gamma = vega = theta = 0.0
    for leg in legs:
        weight = leg.sign * leg.amount
        delta += weight * leg.greeks.delta
        gamma += weight * leg.greeks.gamma
        vega += weight * leg.greeks.vega
        theta += weight * leg.greeks.theta
    return PositionGreeks(delta=delta, gamma=gamma, vega=vega, theta=theta)


def combine(books: Iterable[PositionGreeks]) -> PositionGreeks:
    """Add the greeks of several positions."""
    total = PositionGreeks()
    for book in books:
        total = PositionGreeks(
            delta=total.delta + book.delta,
            gamma=total.gamma + book.gamma,
            vega=total.vega + book.vega,
            theta=total.theta + book.theta,
        )
    return total
