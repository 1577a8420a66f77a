"""The run's clock: the wall clock live, a virtual one under ``CERBERO_BITE_NOW`` and in backtests.

A virtual clock starts at a given instant and ``sleep()`` advances it without
waiting, so a 90 s ladder costs no real time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol

from bite.errors import UsageError

NOW_ENV = "CERBERO_BITE_NOW"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # a virtual clock runs within these
LATEST = datetime(2199, 12, 31, tzinfo=UTC)


class Clock(Protocol):
    """What a run asks of time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass: the program's one wait."""
        ...

    @property
    def virtual(self) -> bool:
        """Whether time is simulated."""
        ...


class WallClock:
    """The system clock."""

    virtual = False

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Really wait (other tasks of the run go on meanwhile)."""
        if seconds > 0:
            await asyncio.sleep(seconds)


class VirtualClock:
    """A clock that only moves when told to."""

    virtual = True

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a virtual clock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The simulated instant."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Advance the simulated time at once."""
        if seconds > 0:
            self._now += timedelta(seconds=seconds)

    def advance_to(self, instant: datetime) -> None:
        """Jump forward to ``instant`` (never backward)."""
        self._now = max(self._now, instant.astimezone(UTC))


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant; a naive one is read as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{NOW_ENV}: not an ISO-8601 time: {text!r}") from None
    value = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= value <= LATEST:  # expiries and windows are computed days ahead
        raise UsageError(
            f"{NOW_ENV}: {text!r} is outside {EARLIEST.year}-{LATEST.year}; "
            "give a time in that span"
        )
    return value


def clock_from_env(environ: dict[str, str], environment: str) -> Clock:
    """The wall clock, or a virtual one when ``CERBERO_BITE_NOW`` is set (paper only)."""
    raw = environ.get(NOW_ENV)
    if raw is None:
        return WallClock()
    if environment != "paper":
        raise UsageError(
            f"{NOW_ENV} is honoured in the paper environment only, not in {environment}"
        )
    return VirtualClock(parse_instant(raw))


@lru_cache(maxsize=4096)  # a run writes the same few instants many times (a backtest's)
def iso_z(instant: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: the audit log's and the database's time format."""
    # isoformat is twice as fast as strftime and writes the same text (years 1000-9999)
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
