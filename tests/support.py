"""Builders shared by the tests: quotes, contexts, the real chain fixtures."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bite.config.schema import StrategyConfig
from bite.core.combo_builder import build_proposal
from bite.core.types import (
    ComboProposal,
    DailyClose,
    EntryContext,
    Greeks,
    KellyEstimate,
    OptionQuote,
    OptionType,
    TradeOutcome,
)

FIXTURES = Path(__file__).parent / "fixtures"
CHAIN_SNAPSHOT = FIXTURES / "deribit" / "chain_snapshot.csv"
UI_EXPORTS = FIXTURES / "deribit" / "ui_chain_export_2025-11-18"

MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday, the default entry slot


# The rules the tests were written for. The shipped defaults of these keys are chosen by
# the study of docs/backtest.md and may move; a test of a rule keeps its own values.
RULES_UNDER_TEST: dict[str, dict[str, Any]] = {
    "strikes": {"short_delta_target": 0.20, "width_pct_of_spot": 5},
    "exit": {"take_profit_pct_of_credit": 0.50, "short_delta_breach": 0.40},
    # the scenarios test the option rules; the hedge's own tests turn it on
    "hedge": {"mode": "none"},
}


def with_rules_under_test(data: dict[str, Any]) -> dict[str, Any]:
    """A config mapping with RULES_UNDER_TEST filled in wherever it says nothing."""
    merged = {name: dict(fields) for name, fields in data.items()}
    for section, fields in RULES_UNDER_TEST.items():
        target = merged.setdefault(section, {})
        for key, value in fields.items():
            target.setdefault(key, value)
    return merged


def cfg(**sections: dict[str, Any]) -> StrategyConfig:
    """The default config with the rules under test, and some sections' fields replaced."""
    return StrategyConfig.model_validate(with_rules_under_test(sections))


def expiry_from_code(code: str) -> datetime:
    """``28NOV25`` -> 2025-11-28 08:00 UTC (Deribit's naming)."""
    day = int(code[:-5])
    month = MONTHS[code[-5:-2]]
    year = 2000 + int(code[-2:])
    return datetime(year, month, day, 8, tzinfo=UTC)


def d(value: str | float | int) -> Decimal:
    """A Decimal from text (floats go through str)."""
    return Decimal(str(value))


def quote(
    strike: float | str,
    option_type: OptionType = "put",
    *,
    bid: str | None = "0.0100",
    ask: str | None = "0.0110",
    mark: str | None = None,
    iv: float = 60.0,
    forward: float | str = 3000,
    expiry: datetime | None = None,
    now: datetime = NOW,
    oi: float = 500.0,
    bid_amount: float | None = 100.0,
    ask_amount: float | None = 100.0,
    delta: float | None = None,
    name: str | None = None,
) -> OptionQuote:
    """An option quote with plausible defaults."""
    exp = expiry if expiry is not None else now + timedelta(days=11, hours=18)
    bid_d = d(bid) if bid is not None else None
    ask_d = d(ask) if ask is not None else None
    if mark is not None:
        mark_d = d(mark)
    elif bid_d is not None and ask_d is not None:
        mark_d = (bid_d + ask_d) / 2
    else:
        mark_d = bid_d or ask_d or Decimal("0.001")
    letter = "P" if option_type == "put" else "C"
    return OptionQuote(
        name=name or f"ETH-{exp:%d%b%y}-{strike}-{letter}".upper(),
        strike=d(strike),
        option_type=option_type,
        expiry=exp,
        bid=bid_d,
        ask=ask_d,
        mark=mark_d,
        mark_iv=iv,
        forward=d(forward),
        open_interest=oi,
        timestamp=now,
        bid_amount=bid_amount,
        ask_amount=ask_amount,
        greeks=Greeks(delta=delta) if delta is not None else None,
    )


def trending_closes(end: date, days: int, start: float, daily_pct: float) -> tuple[DailyClose, ...]:
    """``days`` completed daily closes ending on ``end``, growing ``daily_pct`` a day."""
    closes = []
    price = start
    for i in range(days):
        day = end - timedelta(days=days - 1 - i)
        closes.append(DailyClose(day=day, close=d(round(price, 2))))
        price *= 1 + daily_pct / 100
    return tuple(closes)


def zigzag_closes(end: date, days: int, level: float, swing_pct: float) -> tuple[DailyClose, ...]:
    """Closes alternating up and down by ``swing_pct``: a known realized vol."""
    closes = []
    for i in range(days):
        day = end - timedelta(days=days - 1 - i)
        factor = 1 + swing_pct / 100 if i % 2 else 1.0
        closes.append(DailyClose(day=day, close=d(round(level * factor, 4))))
    return tuple(closes)


def neutral_kelly(**changes: Any) -> KellyEstimate:
    """A Kelly estimate with no trades: the prior, no drawdown."""
    base = KellyEstimate(
        n=0,
        wins=0,
        losses=0,
        p=None,
        b=None,
        f_raw=None,
        f=0.08,
        risk_fraction=0.02,
        mean_r=None,
        sd_r=None,
        upper_mean_r_90=None,
        drawdown_pct=0.0,
        negative_edge=False,
        throttled=False,
        halted=False,
        why=(),
    )
    return replace(base, **changes)


def good_entry_context(**changes: Any) -> EntryContext:
    """An entry context every rule accepts; override fields to trip one rule."""
    now = NOW
    closes = zigzag_closes(now.date() - timedelta(days=1), 130, 3000.0, 2.0)
    stamps = tuple(
        (source, now - timedelta(minutes=1))
        for source in (
            "index",
            "quotes",
            "dvol",
            "candles_hourly",
            "funding",
            "fear_greed",
            "eur_usd",
        )
    )
    base = EntryContext(
        now=now,
        kill_switch_armed=False,
        open_positions=0,
        spot=d(3000),
        dvol=70.0,
        dvol_24h_ago=68.0,
        daily_closes=closes,
        return_24h_pct=1.0,
        funding_annual_pct=10.0,
        macro_events=(),
        calendar_horizon=None,
        fear_greed=50,
        equity_eur=d(30000),
        kelly=neutral_kelly(),
        timestamps=stamps,
        unavailable=(),
    )
    return replace(base, **changes)


def load_chain_snapshot() -> tuple[datetime, Decimal, tuple[OptionQuote, ...]]:
    """The real ETH chain of 2025-11-22 02:15 UTC: (time, index, quotes)."""
    quotes: list[OptionQuote] = []
    stamp = 0
    index = Decimal(0)
    with CHAIN_SNAPSHOT.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            _, code, strike, letter = row["instrument_name"].split("-")
            stamp = max(stamp, int(row["creation_timestamp"]))
            index = Decimal(row["estimated_delivery_price"])
            quotes.append(
                OptionQuote(
                    name=row["instrument_name"],
                    strike=Decimal(strike),
                    option_type="call" if letter == "C" else "put",
                    expiry=expiry_from_code(code),
                    bid=Decimal(row["bid_price"]) if row["bid_price"] else None,
                    ask=Decimal(row["ask_price"]) if row["ask_price"] else None,
                    mark=Decimal(row["mark_price"]),
                    mark_iv=float(row["mark_iv"]),
                    forward=Decimal(row["underlying_price"]),
                    open_interest=float(row["open_interest"]),
                    timestamp=datetime.fromtimestamp(int(row["creation_timestamp"]) / 1000, tz=UTC),
                )
            )
    return datetime.fromtimestamp(stamp / 1000, tz=UTC), index, tuple(quotes)


def model_chain(
    now: datetime = NOW,
    *,
    forward: float = 3000.0,
    iv: float = 60.0,
    days: tuple[float, ...] = (4.75, 11.75, 18.75, 32.75),
    strikes: tuple[int, ...] = tuple(range(2000, 4025, 25)),
    half_spread: str = "0.0002",
    oi: float = 500.0,
) -> tuple[OptionQuote, ...]:
    """A Black-76 chain around ``forward``: bid/ask a fixed half-spread around the mark."""
    from bite.core import pricing
    from bite.core.ticks import round_down, round_up

    half = d(half_spread)
    tick = Decimal("0.0001")
    out: list[OptionQuote] = []
    for day_count in days:
        expiry = now + timedelta(days=day_count)
        t = pricing.year_fraction(now, expiry)
        for strike in strikes:
            option_types: tuple[OptionType, ...] = ("put", "call")
            for option_type in option_types:
                value = pricing.price_eth(option_type, forward, strike, t, iv)
                mark = round_down(d(f"{value:.8f}"), Decimal("0.00000001"))
                bid = round_down(mark - half, tick)
                ask = round_up(mark + half, tick)
                letter = "P" if option_type == "put" else "C"
                out.append(
                    OptionQuote(
                        name=f"ETH-{expiry:%d%b%y}-{strike}-{letter}".upper(),
                        strike=Decimal(strike),
                        option_type=option_type,
                        expiry=expiry,
                        bid=bid if bid > 0 else None,
                        ask=ask,
                        mark=mark,
                        mark_iv=iv,
                        forward=d(forward),
                        open_interest=oi,
                        timestamp=now,
                        bid_amount=100.0,
                        ask_amount=100.0,
                    )
                )
    return tuple(out)


def sample_proposal(n: int = 3, bias: str = "bull") -> ComboProposal:
    if bias == "bull":
        short = quote(2800, "put", bid="0.0120", ask="0.0130", delta=-0.2)
        long = quote(2650, "put", bid="0.0060", ask="0.0065", delta=-0.11)
    else:
        short = quote(3200, "call", bid="0.0120", ask="0.0130", delta=0.2)
        long = quote(3350, "call", bid="0.0060", ask="0.0065", delta=0.11)
    return build_proposal(short, long, n, d(3000), NOW, "p-1", cfg(), eur_usd=d("1.10"))


def trades(rs: list[float], equity: float = 30000.0, loss: float = 100.0) -> list[TradeOutcome]:
    out = []
    eq = Decimal(str(equity))
    for i, r in enumerate(rs):
        pnl = Decimal(str(r)) * Decimal(str(loss))
        eq += pnl
        out.append(
            TradeOutcome(
                closed_at=NOW + timedelta(days=7 * i),
                pnl_eur=pnl,
                sizing_loss_eur=Decimal(str(loss)),
                equity_eur_after=eq,
            )
        )
    return out


def book_summary_rows(quotes: Sequence[OptionQuote]) -> list[dict[str, Any]]:
    """The snapshot's quotes as Deribit's ``get_book_summary_by_currency`` rows, stamped
    with the snapshot's own time (2025-11-22 02:15:13.871 UTC)."""
    return [
        {
            "instrument_name": q.name,
            "bid_price": float(q.bid) if q.bid else None,
            "ask_price": float(q.ask) if q.ask else None,
            "mark_price": float(q.mark),
            "mark_iv": q.mark_iv,
            "underlying_price": float(q.forward),
            "open_interest": q.open_interest,
            "creation_timestamp": 1763777713871,
        }
        for q in quotes
    ]
