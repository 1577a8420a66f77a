"""Rounding prices onto a tick, with ``Decimal`` only (docs/strategy.md 0)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bite.core.types import TickSchedule


def round_down(price: Decimal, tick: Decimal) -> Decimal:
    """Round ``price`` down to a multiple of ``tick``."""
    return (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick


def round_up(price: Decimal, tick: Decimal) -> Decimal:
    """Round ``price`` up to a multiple of ``tick``."""
    return (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def largest_below(limit: Decimal, tick: Decimal) -> Decimal:
    """Return the largest multiple of ``tick`` strictly below ``limit``."""
    return ((limit / tick).to_integral_value(rounding=ROUND_CEILING) - 1) * tick


def is_on_tick(price: Decimal, tick: Decimal) -> bool:
    """Whether ``price`` is an exact multiple of ``tick``."""
    return (price / tick) == (price / tick).to_integral_value()


def round_down_on(price: Decimal, ticks: TickSchedule) -> Decimal:
    """Round down onto a stepped grid (the tick of the price's own step)."""
    return round_down(price, ticks.tick_at(price))


def round_up_on(price: Decimal, ticks: TickSchedule) -> Decimal:
    """Round up onto a stepped grid; a result that crosses a step lands on that step's grid."""
    rounded = round_up(price, ticks.tick_at(price))
    return round_up(rounded, ticks.tick_at(rounded))


def is_on_schedule(price: Decimal, ticks: TickSchedule) -> bool:
    """Whether ``price`` is a valid price on a stepped grid."""
    return is_on_tick(price, ticks.tick_at(price))
