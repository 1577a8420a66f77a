"""Daily market series from CSV files, checked over the span a run reads (docs/paper-exchange.md 5).

Accepts ``date,...,close`` files in either sort order, and yfinance's three-line
header (``Price,Close,...`` / ``Ticker,...`` / ``Date,,,``) where the first column
holds the dates. Within the span: a gap, a duplicate or a bad number is an error
naming the file and line. Cadence is calendar days (ETH prices, DVOL) or working
days (EUR/USD: weekends and holidays are carried). ``build_market`` builds the
market ``paper.market`` asks for, from these files or the shipped data.
"""

from __future__ import annotations

import csv
import itertools
import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from bite.config.schema import StrategyConfig
from bite.paper.market import (
    DailyBar,
    DailyPoint,
    DataFileError,
    HistoricalMarket,
    MarketSource,
    ScriptedMarket,
    SyntheticMarket,
    default_data_file,
)

Cadence = Literal["calendar", "working"]
MAX_WORKING_GAP_DAYS = 5  # a weekend and two holidays (Good Friday and Easter Monday)


@dataclass(frozen=True)
class Series:
    """Daily values by date, with the file they came from."""

    path: Path
    days: tuple[date, ...]
    values: tuple[float, ...]

    def first(self) -> date:
        """The first day."""
        return self.days[0]

    def last(self) -> date:
        """The last day."""
        return self.days[-1]

    def at_or_before(self, day: date) -> float:
        """The value of ``day``, or of the last day before it (carried)."""
        i = bisect_right(self.days, day) - 1
        if i < 0:
            raise DataFileError(f"{self.path}: no value on or before {day}")
        return self.values[i]


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def read_series(
    path: Path,
    column: str = "close",
    *,
    span: tuple[date, date] | None = None,
    cadence: Cadence = "calendar",
) -> Series:
    """Read one daily column; check the rows inside ``span`` (all rows when None)."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataFileError(f"{path}: empty file")
    header = [h.strip().lower() for h in rows[0]]
    date_col = header.index("date") if "date" in header else 0
    if column not in header:
        raise DataFileError(f"{path}: no column {column!r} (columns: {', '.join(header)})")
    value_col = header.index(column)
    found: list[tuple[date, float, int]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        day = _parse_date(row[date_col]) if len(row) > date_col else None
        if day is None:
            if line <= 3:  # yfinance's extra header lines
                continue
            raise DataFileError(f"{path}:{line}: not a date: {row[date_col]!r}")
        if span is not None and not span[0] <= day <= span[1]:
            continue
        try:
            value = float(row[value_col])
        except (ValueError, IndexError):
            raise DataFileError(f"{path}:{line}: bad number in {column}") from None
        if not math.isfinite(value) or value <= 0:
            raise DataFileError(f"{path}:{line}: {column} must be a positive number")
        found.append((day, value, line))
    found.sort()
    for (d1, _, _), (d2, _, line) in itertools.pairwise(found):
        if d2 == d1:
            raise DataFileError(f"{path}:{line}: duplicate date {d2}")
        step = (d2 - d1).days
        too_far = step != 1 if cadence == "calendar" else step > MAX_WORKING_GAP_DAYS
        if too_far:
            raise DataFileError(f"{path}:{line}: gap from {d1} to {d2}")
    if not found:
        where = f" within {span[0]}..{span[1]}" if span else ""
        raise DataFileError(f"{path}: no rows{where}")
    return Series(path, tuple(d for d, _, _ in found), tuple(v for _, v, _ in found))


def available(path: Path, column: str = "close") -> tuple[date, date]:
    """The first and last dated rows of a file (no other check)."""
    days = []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    date_col = header.index("date") if "date" in header else 0
    for row in rows[1:]:
        day = _parse_date(row[date_col]) if len(row) > date_col else None
        if day is not None:
            days.append(day)
    if not days:
        raise DataFileError(f"{path}: no dated rows")
    return min(days), max(days)


def read_bars(
    path: Path, *, span: tuple[date, date] | None = None, cadence: Cadence = "calendar"
) -> list[DailyBar]:
    """Daily bars: open, high, low and close, each column checked as ``read_series`` does.

    A file with a close only gives flat days (each opens at the previous close, its high
    and low its open and close): the path within a day is then a bridge between closes.
    """
    close = read_series(path, "close", span=span, cadence=cadence)
    try:
        columns = [
            read_series(path, c, span=span, cadence=cadence) for c in ("open", "high", "low")
        ]
    except DataFileError as exc:
        if "no column" not in str(exc):
            raise
        bars: list[DailyBar] = []
        previous = close.values[0]
        for day, value in zip(close.days, close.values, strict=True):
            bars.append(DailyBar(day, previous, max(previous, value), min(previous, value), value))
            previous = value
        return bars
    opens, highs, lows = (c.values for c in columns)
    for series in columns:
        if series.days != close.days:
            raise DataFileError(f"{path}: the open, high, low and close columns cover other days")
    for k, day in enumerate(close.days):
        if (
            not lows[k]
            <= min(opens[k], close.values[k])
            <= max(opens[k], close.values[k])
            <= highs[k]
        ):
            raise DataFileError(f"{path}: {day}: high and low do not bracket open and close")
    return [
        DailyBar(d, o, h, lo, c)
        for d, o, h, lo, c in zip(close.days, opens, highs, lows, close.values, strict=True)
    ]


def to_points(series: Series) -> list[DailyPoint]:
    """A series as the market model's daily points."""
    return [DailyPoint(d, v) for d, v in zip(series.days, series.values, strict=True)]


def build_market(cfg: StrategyConfig, base_dir: Path) -> MarketSource:
    """The market the config asks for."""
    market = cfg.paper.market
    seed = cfg.paper.seed
    if market.kind == "scripted":
        return ScriptedMarket.from_file(_resolve(base_dir, market.script_file or ""), seed)
    if market.kind == "historical":
        prices = (
            _resolve(base_dir, market.prices_file)
            if market.prices_file
            else default_data_file("eth_usd_daily.csv")
        )
        dvol = (
            _resolve(base_dir, market.dvol_file)
            if market.dvol_file
            else default_data_file("eth_dvol.csv")
        )
        return HistoricalMarket(read_bars(prices), read_bars(dvol), seed)
    return SyntheticMarket(seed)


def _resolve(base_dir: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else base_dir / path
