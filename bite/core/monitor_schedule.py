"""When an hourly monitor run decides in full (docs/strategy.md 10).

cron or the systemd timer start ``monitor-run`` every hour. It decides in full at
the scheduled slots (``schedule.monitor_decision_hours_utc``, 06:00 and 18:00 by
default) and, between them, only when something warrants it: spot has moved more
than ``monitor_wake_move_pct`` since the last decision, spot is within
``monitor_wake_strike_distance_pct`` of a short strike, an exit is pending, or a
position has expired. Otherwise the run has read spot and is ``not_due``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from bite.config.schema import ScheduleConfig


def last_slot(now: datetime, hours: Sequence[int]) -> datetime:
    """The most recent scheduled decision time at or before ``now``."""
    today = now.replace(minute=0, second=0, microsecond=0)
    for back in range(0, 48):
        candidate = today - timedelta(hours=back)
        if candidate.hour in hours and candidate <= now:
            return candidate
    raise ValueError("no decision hour in the schedule")


def decision_due(
    now: datetime,
    spot: Decimal,
    last_decision: tuple[datetime, Decimal] | None,
    short_strikes: Sequence[Decimal],
    expiries: Sequence[datetime],
    exit_pending: bool,
    cfg: ScheduleConfig,
) -> list[str]:
    """Why this run must decide in full; empty when it is not due."""
    why: list[str] = []
    if last_decision is None or last_decision[0] < last_slot(now, cfg.monitor_decision_hours_utc):
        why.append("scheduled")
    if exit_pending:
        why.append("exit_pending")
    if any(expiry <= now for expiry in expiries):
        why.append("expired")
    if last_decision is not None and last_decision[1] > 0:
        moved = abs(spot / last_decision[1] - 1) * 100
        if moved > Decimal(str(cfg.monitor_wake_move_pct)):
            why.append("spot_moved")
    distance = Decimal(str(cfg.monitor_wake_strike_distance_pct))
    if any(strike > 0 and abs(spot / strike - 1) * 100 <= distance for strike in short_strikes):
        why.append("near_short_strike")
    return why
