"""The paper chain against a recorded one: how far the market model is from what Deribit quoted.

A recorded chain is a CSV with the columns of Deribit's ``get_book_summary_by_currency``
(``instrument_name``, ``bid_price``, ``ask_price``, ``mark_price``, ``mark_iv``,
``underlying_price``, ``creation_timestamp``), as ``../data/deribit/chain_snapshot.csv``
and the chains bite records (``data/chains/``). The comparison prices the model at the
recorded chain's own time, on the market it would have replayed then, and reports:

- per expiry, the ATM IV of each (interpolated at the forward) and the strike of the
  0.20-delta put and call of each, counted in the recorded chain's listed strikes;
- per moneyness bucket (ln K / F, out-of-the-money options), the mean IV error and
  the median bid-ask spread of each.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bite.config.schema import ChainModelConfig
from bite.core import pricing
from bite.paper.chain import Listing, quote
from bite.paper.market import DataFileError, MarketSource

BUCKETS = (-1.0, -0.2, -0.1, -0.03, 0.03, 0.1, 0.2, 1.0)
TARGET_DELTA = 0.20


@dataclass(frozen=True)
class RecordedQuote:
    """One row of a recorded chain."""

    name: str
    strike: float
    option_type: str
    expiry: datetime
    bid: float | None
    ask: float | None
    mark: float
    mark_iv: float
    forward: float
    time: datetime


def _expiry(code: str) -> datetime:
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    day, month, year = int(code[:-5]), months.index(code[-5:-2]) + 1, 2000 + int(code[-2:])
    return datetime(year, month, day, 8, tzinfo=UTC)


def _price(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    value = float(text)
    return value if value > 0 else None


def read_recorded(path: Path) -> list[RecordedQuote]:
    """A recorded chain (CSV, or gzipped CSV when the name ends in ``.gz``)."""
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            _, code, strike, letter = row["instrument_name"].split("-")
            out.append(
                RecordedQuote(
                    name=row["instrument_name"],
                    strike=float(strike),
                    option_type="call" if letter == "C" else "put",
                    expiry=_expiry(code),
                    bid=_price(row.get("bid_price")),
                    ask=_price(row.get("ask_price")),
                    mark=float(row["mark_price"]),
                    mark_iv=float(row["mark_iv"]),
                    forward=float(row["underlying_price"]),
                    time=datetime.fromtimestamp(int(row["creation_timestamp"]) / 1000, tz=UTC),
                )
            )
        except (KeyError, ValueError, IndexError):
            raise DataFileError(
                f"{path}:{line}: needs instrument_name, mark_price, mark_iv, "
                "underlying_price and creation_timestamp"
            ) from None
    if not out:
        raise DataFileError(f"{path}: no rows")
    return out


def _atm(points: list[tuple[float, float]]) -> float | None:
    """Linear interpolation at log-moneyness 0 of (k, iv) points."""
    ordered = sorted(points)
    for (k1, v1), (k2, v2) in itertools.pairwise(ordered):
        if k1 <= 0 <= k2 and k2 > k1:
            return v1 + (v2 - v1) * (0 - k1) / (k2 - k1)
    return None


def _delta(option_type: str, forward: float, strike: float, t: float, iv: float) -> float:
    return pricing.greeks(option_type, forward, strike, t, iv).delta  # type: ignore[arg-type]


def compare(
    recorded: list[RecordedQuote], market: MarketSource, model: ChainModelConfig
) -> dict[str, Any]:
    """The model at the recorded chain's time against it (see the module docstring)."""
    at = max(q.time for q in recorded)
    state = market.state(at)
    by_expiry: dict[datetime, list[RecordedQuote]] = defaultdict(list)
    for q in recorded:
        if q.expiry > at:
            by_expiry[q.expiry].append(q)
    expiries = []
    buckets: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for expiry, rows in sorted(by_expiry.items()):
        days = (expiry - at).total_seconds() / 86400
        t = pricing.year_fraction(at, expiry)
        forward = rows[0].forward
        model_forward = state.forward(expiry)
        model_quotes = {}
        for q in rows:
            listing = Listing(q.name, int(q.strike), q.option_type, expiry, "any")  # type: ignore[arg-type]
            model_quotes[q.name] = quote(state, listing, market.seed, model)
        real_atm = _atm([(math.log(q.strike / forward), q.mark_iv) for q in rows])
        model_atm = _atm(
            [(math.log(q.strike / model_forward), model_quotes[q.name].mark_iv) for q in rows]
        )
        row: dict[str, Any] = {
            "expiry": expiry.date().isoformat(),
            "days": round(days, 2),
            "forward": round(forward, 2),
            "model_forward": round(model_forward, 2),
            "atm_iv": round(real_atm, 2) if real_atm else None,
            "model_atm_iv": round(model_atm, 2) if model_atm else None,
        }
        strikes = sorted({q.strike for q in rows})
        for kind in ("put", "call"):
            side = [q for q in rows if q.option_type == kind]
            if not side:
                continue
            real = min(
                side,
                key=lambda q: abs(
                    abs(_delta(kind, forward, q.strike, t, q.mark_iv)) - TARGET_DELTA
                ),
            )
            mod = min(
                side,
                key=lambda q: abs(abs(model_quotes[q.name].greeks.delta) - TARGET_DELTA),
            )
            row[f"delta20_{kind}"] = real.strike
            row[f"model_delta20_{kind}"] = mod.strike
            row[f"delta20_{kind}_strikes_apart"] = abs(
                strikes.index(real.strike) - strikes.index(mod.strike)
            )
        expiries.append(row)
        for q in rows:
            k = math.log(q.strike / forward)
            otm = (q.option_type == "put" and k < 0) or (q.option_type == "call" and k >= 0)
            if not otm:
                continue
            b = next(
                i for i in range(len(BUCKETS) - 1) if k < BUCKETS[i + 1] or i == len(BUCKETS) - 2
            )
            m = model_quotes[q.name]
            cell = buckets[b]
            cell["iv_error"].append(m.mark_iv - q.mark_iv)
            if q.bid is not None and q.ask is not None:
                cell["spread"].append(q.ask - q.bid)
            if m.bid is not None and m.ask is not None:
                cell["model_spread"].append(float(m.ask - m.bid))
    table = []
    for b in sorted(buckets):
        cell = buckets[b]
        errors = cell["iv_error"]
        table.append(
            {
                "moneyness": f"{BUCKETS[b]:+.2f}..{BUCKETS[b + 1]:+.2f}",
                "options": len(errors),
                "iv_error_mean": round(statistics.fmean(errors), 2),
                "iv_error_abs_mean": round(statistics.fmean(abs(e) for e in errors), 2),
                "spread_median": round(statistics.median(cell["spread"]), 5)
                if cell["spread"]
                else None,
                "model_spread_median": round(statistics.median(cell["model_spread"]), 5)
                if cell["model_spread"]
                else None,
            }
        )
    return {
        "time": at.isoformat(),
        "spot": round(state.index, 2),
        "dvol": round(state.dvol, 2),
        "expiries": expiries,
        "moneyness": table,
    }


def smile_fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares of ``iv / atm - 1 = skew z + curvature z^2`` over (z, iv / atm) points:
    how the chain model's two smile parameters are fitted (no intercept: z = 0 is ATM)."""
    zz = sum(z * z for z, _ in points)
    z3 = sum(z**3 for z, _ in points)
    z4 = sum(z**4 for z, _ in points)
    zy = sum(z * (r - 1) for z, r in points)
    z2y = sum(z * z * (r - 1) for z, r in points)
    det = zz * z4 - z3 * z3
    if det == 0:
        raise ValueError("a smile fit needs points on both sides of the money")
    return (zy * z4 - z3 * z2y) / det, (zz * z2y - z3 * zy) / det
