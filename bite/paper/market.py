"""The paper exchange's market model (docs/paper-exchange.md 1): pure functions of (seed, time).

Three sources behind one interface, each giving the :class:`MarketState` at any
instant:

- **synthetic**: a sum of seeded random cosine modes. Log-price modes have
  periods from two hours to a year; below sixty days their amplitudes grow with
  the square root of the period (a random walk's signature), above it they are
  flat (mean reversion around 3,000 USD). The fast part is scaled by a slowly
  moving DVOL so that realized volatility runs about 8 points below it. Every
  value is O(number of modes) at any time: no history is simulated.
- **historical**: daily ETH bars and DVOL bars from CSV files; within a day a
  seeded path through the day's real open, high, low and close (causal: an
  instant of day D reads nothing dated after D).
- **scripted**: a YAML list of points, linearly interpolated.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml

from bite.core.types import MacroEvent

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class MarketState:
    """The market at one instant."""

    time: datetime
    index: float
    dvol: float
    funding_hourly: float
    eur_usd: float
    fear_greed: int
    basis_annual: float = 0.04
    dvol_change_24h: float = 0.0  # DVOL points since 24 h before (the stress terms read it)
    move_24h_pct: float = 0.0  # abs(the index's 24 h return) in percent

    def forward(self, expiry: datetime) -> float:
        """The expiry's forward: the index carried at the basis."""
        t = max((expiry - self.time).total_seconds() / (365 * DAY), 0.0)
        return self.index * (1 + self.basis_annual * t)


class MarketSource(Protocol):
    """Anything that says what the market is at a time."""

    seed: int

    def state(self, when: datetime) -> MarketState:
        """The market at ``when``."""
        ...

    def index_and_dvol(self, when: datetime) -> tuple[float, float]:
        """The index and DVOL at ``when``, as ``state`` has them: what the history tools
        (candles, DVOL) ask of many instants, without the rest of the state."""
        ...

    def calendar(self, start: datetime, end: datetime) -> list[MacroEvent]:
        """Macro events in [start, end]."""
        ...


@lru_cache(maxsize=1 << 16)  # a chain is quoted many times within its hour
def unit(seed: int, *keys: object) -> float:
    """A deterministic number in [0, 1) from the seed and keys (same in every process)."""
    return _unit_of("|".join(map(str, (seed, *keys))))


def _unit_of(text: str) -> float:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2**64


def units_once(seed: int, keys: tuple[object, ...], last: tuple[str, ...]) -> list[float]:
    """``unit(seed, *keys, x)`` for each x of ``last``, without the cache (for keys asked
    once, such as an hour's book amounts, which would only push out of the cache the keys
    asked again and again) and with the text they share made once."""
    head = "|".join(map(str, (seed, *keys, "")))
    return [_unit_of(head + x) for x in last]


def _box_muller(u1: float, u2: float) -> float:
    """A standard normal from two uniform draws."""
    return math.sqrt(-2 * math.log(max(u1, 1e-12))) * math.cos(2 * math.pi * u2)


@dataclass(frozen=True)
class _Mode:
    period_s: float
    amplitude: float
    phase: float


def _modes(
    seed: int, name: str, count: int, shortest_h: float, longest_h: float, knee_h: float
) -> tuple[_Mode, ...]:
    """Cosine modes with log-spaced periods; amplitude grows as sqrt(period) up to the knee."""
    modes = []
    for k in range(count):
        jitter = unit(seed, name, k, "p")
        frac = (k + jitter) / count
        period_h = shortest_h * (longest_h / shortest_h) ** frac
        amplitude = math.sqrt(min(period_h, knee_h))
        modes.append(_Mode(period_h * HOUR, amplitude, 2 * math.pi * unit(seed, name, k, "f")))
    norm = math.sqrt(sum(m.amplitude**2 for m in modes) / 2)
    return tuple(_Mode(m.period_s, m.amplitude / norm, m.phase) for m in modes)


def _daily_increment_sd(modes: Sequence[_Mode]) -> float:
    """The one-day increment sd of a wave, in closed form (random phases)."""
    var = sum(m.amplitude**2 * (1 - math.cos(2 * math.pi * DAY / m.period_s)) for m in modes)
    return math.sqrt(var)


def _wave(modes: Sequence[_Mode], seconds: float) -> float:
    """A unit-variance stationary signal."""
    return sum(m.amplitude * math.cos(2 * math.pi * seconds / m.period_s + m.phase) for m in modes)


class SyntheticMarket:
    """A seeded, deterministic ETH market (the default)."""

    CENTRE = math.log(3000.0)

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        # slow log-price: trends of weeks to months, mean-reverting (sd 0.28 in log)
        self._slow = _modes(seed, "slow", 24, 24 * 12, 24 * 400, 24 * 60)
        # fast log-price: hours to days, scaled by the vol level
        self._fast = _modes(seed, "fast", 48, 2, 24 * 12, 24 * 12)
        self._vol = _modes(seed, "vol", 12, 24 * 5, 24 * 200, 24 * 90)
        self._mood = _modes(seed, "mood", 8, 24 * 3, 24 * 60, 24 * 60)
        self._fx = _modes(seed, "fx", 6, 24 * 20, 24 * 400, 24 * 400)
        self._fast_daily_sd = _daily_increment_sd(self._fast)
        self._slow_daily_sd = 0.28 * _daily_increment_sd(self._slow)

    def _dvol(self, s: float) -> float:
        base = 68 + 16 * _wave(self._vol, s)
        spike_phase = (s / (DAY * 97) + unit(self.seed, "spike")) % 1.0
        spike = 30 * math.exp(-(((spike_phase - 0.5) / 0.012) ** 2))
        return max(28.0, base + spike)

    def index_and_dvol(self, when: datetime) -> tuple[float, float]:
        """The index and DVOL at ``when`` (``state``'s)."""
        found = self.state(when)
        return found.index, found.dvol

    def state(self, when: datetime) -> MarketState:
        """The market at ``when``: O(modes), independent of the time since the epoch."""
        s = (when - EPOCH).total_seconds()
        dvol = self._dvol(s)
        realized_daily = max(dvol - 8.0, 15.0) / 100 / math.sqrt(365)
        fast_daily = math.sqrt(max(realized_daily**2 - self._slow_daily_sd**2, 1e-6))
        fast_scale = fast_daily / self._fast_daily_sd
        slow = 0.28 * _wave(self._slow, s)
        x = self.CENTRE + 0.69 * math.tanh(slow / 0.69) + fast_scale * _wave(self._fast, s)
        mood = _wave(self._mood, s)
        return MarketState(
            time=when,
            index=math.exp(x),
            dvol=dvol,
            funding_hourly=0.0000125 * (1 + 1.2 * mood),
            eur_usd=1.09 + 0.04 * _wave(self._fx, s),
            fear_greed=round(min(max(50 + 22 * mood + 18 * math.tanh(slow / 0.2), 3), 97)),
        )

    def calendar(self, start: datetime, end: datetime) -> list[MacroEvent]:
        """A synthetic calendar: an FOMC decision every sixth Wednesday, a CPI print monthly."""
        return synthetic_calendar(start, end)


def synthetic_calendar(start: datetime, end: datetime) -> list[MacroEvent]:
    """FOMC every 6 weeks (Wednesdays 18:00 UTC from 2020-01-29) and US CPI on the 12th."""
    events: list[MacroEvent] = []
    first = datetime(2020, 1, 29, 18, tzinfo=UTC)
    k = max(0, int((start - first).total_seconds() // (42 * DAY)) - 1)
    while True:
        when = first + timedelta(days=42 * k)
        if when > end:
            break
        if when >= start:
            events.append(MacroEvent("FOMC rate decision", when, "high", "US"))
        k += 1
    month = date(start.year, start.month, 1)
    while True:
        when = datetime(month.year, month.month, 12, 12, 30, tzinfo=UTC)
        if when > end:
            break
        if when >= start:
            events.append(MacroEvent("US CPI", when, "high", "US"))
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return sorted(events, key=lambda e: e.time)


@dataclass(frozen=True)
class DailyPoint:
    """One day of a historical file."""

    day: date
    value: float


class DataFileError(ValueError):
    """A market data file is unusable; names the file and line."""


@dataclass(frozen=True)
class DailyBar:
    """One day's open, high, low and close."""

    day: date
    open: float
    high: float
    low: float
    close: float


Knots = tuple[float, float, float, float]  # a day's (start, high, low, end)


def day_path(seed: int, key: str, day: date, bar: Knots, frac: float) -> float:
    """A day's path at ``frac`` of the day, from its (start, high, low, end) values.

    It starts at ``start``, passes through the day's real high and low (which comes
    first, and when, is drawn per day from the seed) and ends at ``end``; between
    those knots a seeded bridge adds noise scaled to the day's range, and the path
    never leaves [low, high]. It reads nothing but that one day's bar: a replay that
    sees the path up to t has seen nothing dated after the day of t.
    """
    start, high, low, end = bar
    hi, lo = max(high, start, end), min(low, start, end)
    if hi - lo <= 0:
        return start
    high_first, t1, t2, normals = _day_draws(seed, key, day)
    e1, e2 = (hi, lo) if high_first else (lo, hi)
    if frac <= t1:
        a, b, va, vb, seg = 0.0, t1, start, e1, 0
    elif frac <= t2:
        a, b, va, vb, seg = t1, t2, e1, e2, 1
    else:
        a, b, va, vb, seg = t2, 1.0, e2, end, 2
    u = (frac - a) / (b - a)
    n1, n2, n3 = normals[seg]
    noise = (
        n1 * math.sin(math.pi * u)
        + n2 * math.sin(2 * math.pi * u) / 2
        + n3 * math.sin(3 * math.pi * u) / 3
    )
    value = va + (vb - va) * u + 0.12 * (hi - lo) * noise
    return min(max(value, lo), hi)


@lru_cache(maxsize=1 << 14)
def _day_draws(
    seed: int, key: str, day: date
) -> tuple[bool, float, float, tuple[tuple[float, float, float], ...]]:
    """A day's seeded draws: which extreme comes first, when, and the bridge's normals
    (each drawn once: not worth ``unit``'s cache)."""
    tag = (key, day.isoformat())
    order, t1, t2 = units_once(seed, tag, ("order", "t1", "t2"))
    normals = tuple(
        tuple(_box_muller(*units_once(seed, (*tag, seg, k), ("a", "b"))) for k in (1, 2, 3))
        for seg in range(3)
    )
    return order < 0.5, 0.08 + 0.37 * t1, 0.55 + 0.37 * t2, normals  # type: ignore[return-value]


class HistoricalMarket:
    """Real daily ETH bars and DVOL bars, with a causal path within each day.

    At an instant of day D the state reads D's bars (their open, high, low and
    close shape that day's path, as the day itself would unfold) and earlier days
    only: nothing dated after D. DVOL's path runs from the previous day's close
    through D's high and low to D's close. EUR/USD is the previous working day's.
    """

    def __init__(
        self,
        prices: list[DailyBar],
        dvol: list[DailyBar],
        seed: int = 7,
        eur_usd: float = 1.09,
        funding_hourly: float = 0.0000125,
        fear_greed: int = 50,
        *,
        eur_usd_daily: list[DailyPoint] | None = None,
        funding_daily: list[DailyPoint] | None = None,
        fear_greed_daily: list[DailyPoint] | None = None,
        events: list[MacroEvent] | None = None,
    ) -> None:
        if not prices or not dvol:
            raise DataFileError("historical market needs prices and DVOL")
        self.seed = seed
        self._days = [p.day for p in prices]
        self._bars = prices
        self._dvol_days = [p.day for p in dvol]
        self._dvol = dvol
        self._eur_usd = eur_usd
        self._funding = funding_hourly
        self._fear_greed = fear_greed
        self._fx = _carried(eur_usd_daily)
        self._funding_daily = _carried(funding_daily)
        self._fg_daily = _carried(fear_greed_daily)
        self._events = sorted(events or [], key=lambda e: e.time)
        self._raw_cache: dict[datetime, tuple[float, float]] = {}
        self._knots_cache: dict[date, tuple[Knots, Knots]] = {}
        self._last_state: MarketState | None = None
        self._daily_cache: dict[date, tuple[float, float, int]] = {}

    @staticmethod
    def _bar_of(days: list[date], bars: list[DailyBar], day: date) -> tuple[DailyBar, float]:
        """The day's bar (a day past the data: flat at the last close) and the close before."""
        i = bisect_right(days, day) - 1
        if i < 0:
            raise DataFileError(f"no data on or before {day}")
        bar = bars[i]
        if bar.day != day:
            c = bar.close
            return DailyBar(day, c, c, c, c), c
        return bar, bars[i - 1].close if i > 0 else bar.open

    def _raw(self, when: datetime) -> tuple[float, float]:
        """(index, DVOL) at ``when``, on the day's paths (kept: candles ask the same instants
        again and again)."""
        found = self._raw_cache.get(when)
        if found is None:
            if len(self._raw_cache) > 200_000:
                self._raw_cache.clear()
            found = self._raw_cache[when] = self._path(when)
        return found

    def _path(self, when: datetime) -> tuple[float, float]:
        day = when.date()
        frac = (when - datetime(day.year, day.month, day.day, tzinfo=UTC)).total_seconds() / DAY
        spot, vol = self._knots(day)
        x = day_path(self.seed, "spot", day, spot, frac)
        return math.exp(x), day_path(self.seed, "dvol", day, vol, frac)

    def _knots(self, day: date) -> tuple[Knots, Knots]:
        """The day's knots (kept: every hour of the day asks): its log spot bar, and DVOL
        from the day before's close."""
        found = self._knots_cache.get(day)
        if found is None:
            bar, _ = self._bar_of(self._days, self._bars, day)
            vol, before = self._bar_of(self._dvol_days, self._dvol, day)
            found = self._knots_cache[day] = (
                (math.log(bar.open), math.log(bar.high), math.log(bar.low), math.log(bar.close)),
                (before, vol.high, vol.low, vol.close),
            )
        return found

    def index_and_dvol(self, when: datetime) -> tuple[float, float]:
        """The index and DVOL at ``when`` (``state``'s, without the rest)."""
        return self._raw(when)

    def state(self, when: datetime) -> MarketState:
        """The market at ``when`` (see the class docstring for what it may read); the last
        one is kept (the venue's parts ask the same instant in turn)."""
        last = self._last_state
        if last is not None and last.time == when:
            return last
        self._last_state = self._state(when)
        return self._last_state

    def _state(self, when: datetime) -> MarketState:
        index, dvol = self._raw(when)
        index_24h, dvol_24h = self._raw(when - timedelta(hours=24))
        funding, eur_usd, fear = self._daily(when.date())
        return MarketState(
            time=when,
            index=index,
            dvol=dvol,
            funding_hourly=funding,
            eur_usd=eur_usd,
            fear_greed=fear,
            dvol_change_24h=dvol - dvol_24h,
            move_24h_pct=abs(index / index_24h - 1) * 100,
        )

    def _daily(self, day: date) -> tuple[float, float, int]:
        """The day's funding, EUR/USD (the working day's before) and Fear & Greed (kept:
        every hour of the day asks)."""
        found = self._daily_cache.get(day)
        if found is None:
            eur_usd = self._fx(day - timedelta(days=1)) if self._fx else None
            funding = self._funding_daily(day) if self._funding_daily else None
            fear = self._fg_daily(day) if self._fg_daily else None
            found = self._daily_cache[day] = (
                funding if funding is not None else self._funding,
                eur_usd if eur_usd is not None else self._eur_usd,
                round(fear) if fear is not None else self._fear_greed,
            )
        return found

    def calendar(self, start: datetime, end: datetime) -> list[MacroEvent]:
        """The calendar file's events in [start, end] (none without a file)."""
        return [e for e in self._events if start <= e.time <= end]


def _carried(points: list[DailyPoint] | None) -> Any:
    """A lookup of a daily series that carries the last value over missing days."""
    if not points:
        return None
    days = [p.day for p in points]
    values = [p.value for p in points]

    def lookup(day: date) -> float | None:
        i = bisect_right(days, day) - 1
        return values[i] if i >= 0 else None

    return lookup


class ScriptedMarket:
    """A YAML path of points, linearly interpolated (for tests that need a given path)."""

    def __init__(
        self, points: list[dict[str, Any]], seed: int = 7, events: list[MacroEvent] | None = None
    ) -> None:
        if len(points) < 1:
            raise DataFileError("a scripted market needs at least one point")
        rows = sorted(points, key=lambda p: _instant(p["time"]))
        self.seed = seed
        self._times = [_instant(p["time"]) for p in rows]
        self._rows = rows
        self._events = events or []

    @classmethod
    def from_file(cls, path: Path, seed: int = 7) -> ScriptedMarket:
        """Read ``points:`` (and optional ``events:``) from a YAML file."""
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        points = data["points"] if isinstance(data, dict) else data
        events = [
            MacroEvent(
                e["name"], _instant(e["time"]), e.get("impact", "high"), e.get("country", "US")
            )
            for e in (data.get("events", []) if isinstance(data, dict) else [])
        ]
        return cls(points, seed, events)

    def _value(self, when: datetime, key: str, default: float) -> float:
        i = bisect_right(self._times, when)
        if i == 0:
            return float(self._rows[0].get(key, default))
        if i == len(self._times):
            return float(self._rows[-1].get(key, default))
        t0, t1 = self._times[i - 1], self._times[i]
        v0 = float(self._rows[i - 1].get(key, default))
        v1 = float(self._rows[i].get(key, default))
        w = (when - t0).total_seconds() / (t1 - t0).total_seconds()
        return v0 + (v1 - v0) * w

    def index_and_dvol(self, when: datetime) -> tuple[float, float]:
        """The index and DVOL at ``when`` (``state``'s)."""
        return self._value(when, "spot", 3000.0), self._value(when, "dvol", 60.0)

    def state(self, when: datetime) -> MarketState:
        """Interpolate every field between the surrounding points."""
        return MarketState(
            time=when,
            index=self._value(when, "spot", 3000.0),
            dvol=self._value(when, "dvol", 60.0),
            funding_hourly=self._value(when, "funding_hourly", 0.0000125),
            eur_usd=self._value(when, "eur_usd", 1.09),
            fear_greed=round(self._value(when, "fear_greed", 50)),
        )

    def calendar(self, start: datetime, end: datetime) -> list[MacroEvent]:
        """The script's events in [start, end]."""
        return [e for e in self._events if start <= e.time <= end]


HISTORY_DIR = Path(__file__).parent / "history"


def default_data_file(name: str) -> Path:
    """A market history file shipped with the package (see ``history/SOURCES.md``)."""
    return HISTORY_DIR / name


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
