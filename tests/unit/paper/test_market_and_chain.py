"""The paper market and chain: deterministic, Deribit-like, priced by Black-76 with a put skew."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from bite.core import pricing
from bite.core.ticks import is_on_schedule
from bite.core.types import DERIBIT_ETH_OPTION_TICKS
from bite.paper.chain import (
    Chain,
    PaperQuote,
    _bid_ask_decimal,
    bid_ask,
    expiries,
    expiry_listings,
    strike_step,
    strikes,
)
from bite.paper.market import (
    DataFileError,
    HistoricalMarket,
    ScriptedMarket,
    SyntheticMarket,
    default_data_file,
    unit,
    units_once,
)
from bite.paper.series import read_bars, read_series, to_points
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.cli_support import ROOT

T = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)

DUMP = """
import json, sys
from datetime import datetime, UTC
from bite.paper.market import SyntheticMarket
from bite.paper.chain import Chain
c = Chain(SyntheticMarket(7).state(datetime(2026, 3, 2, 14, tzinfo=UTC)), 7)
print(json.dumps([[q.listing.name, str(q.bid), str(q.ask), str(q.mark), q.bid_amount]
                  for q in c.all_quotes()]))
"""


def test_the_same_seed_and_time_give_the_same_chain_in_two_processes() -> None:
    runs = [
        subprocess.run(
            [sys.executable, "-c", DUMP], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert len(json.loads(runs[0])) > 500


def test_a_different_seed_gives_a_different_market() -> None:
    assert SyntheticMarket(7).state(T).index != SyntheticMarket(8).state(T).index


def test_state_cost_does_not_grow_with_time() -> None:
    far = SyntheticMarket(7).state(datetime(2090, 1, 1, tzinfo=UTC))
    assert 1500 < far.index < 6000


def test_expiries_are_at_eight_utc_on_the_right_days() -> None:
    found = expiries(T)
    assert all(x.hour == 8 and x.minute == 0 for x, _ in found)
    days = [x.date().isoformat() for x, _ in found]
    assert days[:3] == ["2026-03-03", "2026-03-04", "2026-03-05"]  # dailies
    assert "2026-03-13" in days  # the Friday after next
    assert "2026-03-27" in days  # last Friday of March: monthly and quarterly
    assert "2026-06-26" in days and "2026-09-25" in days and "2026-12-25" in days
    fridays = [x for x, kind in found if kind in ("week", "month")]
    assert all(x.weekday() == 4 for x in fridays)
    assert len(days) == len(set(days))


def test_every_mark_reproduces_by_black_76_and_books_sit_on_the_tick() -> None:
    chain = Chain(SyntheticMarket(7).state(T), 7)
    quotes = chain.all_quotes()
    for q in quotes:
        t = pricing.year_fraction(T, q.listing.expiry)
        model = pricing.price_eth(q.listing.option_type, q.forward, q.listing.strike, t, q.mark_iv)
        assert abs(model - float(q.mark)) < 2e-6
        assert q.ask is not None
        assert is_on_schedule(q.ask, DERIBIT_ETH_OPTION_TICKS)
        if q.bid is not None:
            assert q.bid < q.ask
            assert is_on_schedule(q.bid, DERIBIT_ETH_OPTION_TICKS)
            assert q.bid <= q.mark <= q.ask


def test_otm_puts_carry_more_vol_than_otm_calls_at_the_same_distance() -> None:
    state = SyntheticMarket(7).state(T)
    chain = Chain(state, 7)
    expiry = next(x for x, _ in expiries(T) if (x - T).days >= 10)
    forward = state.forward(expiry)
    by_name = {q.listing.name: q for q in chain.all_quotes() if q.listing.expiry == expiry}
    puts = sorted(
        (
            q
            for q in by_name.values()
            if q.listing.option_type == "put" and q.listing.strike < forward
        ),
        key=lambda q: -q.listing.strike,
    )
    calls = sorted(
        (
            q
            for q in by_name.values()
            if q.listing.option_type == "call" and q.listing.strike > forward
        ),
        key=lambda q: q.listing.strike,
    )
    for put, call in zip(puts[2:8], calls[2:8], strict=True):
        assert put.mark_iv > call.mark_iv


def test_spreads_widen_far_out_of_the_money() -> None:
    chain = Chain(SyntheticMarket(7).state(T), 7)
    expiry = next(x for x, _ in expiries(T) if (x - T).days >= 10)
    calls = sorted(
        (
            q
            for q in chain.all_quotes()
            if q.listing.expiry == expiry and q.listing.option_type == "call" and q.bid
        ),
        key=lambda q: q.listing.strike,
    )
    near, far = calls[len(calls) // 2], calls[-3]
    assert relative_spread(far) > relative_spread(near)


def relative_spread(q: PaperQuote) -> float:
    assert q.ask is not None and q.bid is not None
    return float((q.ask - q.bid) / q.mark)


def test_the_historical_path_passes_through_the_days_real_high_low_and_close() -> None:
    prices = read_bars(default_data_file("eth_usd_daily.csv"))
    dvol = read_bars(default_data_file("eth_dvol.csv"))
    market = HistoricalMarket(prices, dvol, seed=7)
    for day in ("2022-06-13", "2022-06-18", "2023-03-10", "2024-08-05"):
        bar = next(b for b in prices if b.day.isoformat() == day)
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        path = [market.state(start + timedelta(minutes=m)).index for m in range(1440)]
        assert path[0] == pytest.approx(bar.open, rel=1e-9)
        assert max(path) <= bar.high * (1 + 1e-9)
        assert min(path) >= bar.low * (1 - 1e-9)
        assert max(path) == pytest.approx(bar.high, rel=2e-3)  # sampled each minute
        assert min(path) == pytest.approx(bar.low, rel=2e-3)
        end = market.state(start + timedelta(hours=24) - timedelta(microseconds=1)).index
        assert end == pytest.approx(bar.close, rel=1e-6)


def test_dvol_runs_from_the_previous_close_through_the_days_high_and_low() -> None:
    prices = read_bars(default_data_file("eth_usd_daily.csv"))
    dvol = read_bars(default_data_file("eth_dvol.csv"))
    market = HistoricalMarket(prices, dvol, seed=7)
    bars = {b.day.isoformat(): b for b in dvol}
    start = datetime(2022, 6, 13, tzinfo=UTC)
    path = [market.state(start + timedelta(minutes=m)).dvol for m in range(1440)]
    assert path[0] == pytest.approx(bars["2022-06-12"].close)
    assert max(path) == pytest.approx(max(bars["2022-06-13"].high, path[0]), rel=2e-3)
    assert min(path) == pytest.approx(min(bars["2022-06-13"].low, path[0]), rel=2e-3)


def test_a_gap_a_duplicate_and_a_bad_number_are_refused_with_the_line(tmp_path: Path) -> None:
    for body, problem in (
        ("2024-01-01,1\n2024-01-03,2\n", "gap"),
        ("2024-01-01,1\n2024-01-01,2\n", "duplicate"),
        ("2024-01-01,1\n2024-01-02,abc\n", "bad"),
    ):
        path = tmp_path / "p.csv"
        path.write_text("date,close\n" + body, encoding="utf-8")
        with pytest.raises(DataFileError, match=problem) as caught:
            read_series(path)
        assert f"{path}:3" in str(caught.value)


def test_scripted_market_interpolates_between_points(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "points:\n  - {time: '2026-03-02T00:00:00Z', spot: 3000, dvol: 60}\n"
        "  - {time: '2026-03-03T00:00:00Z', spot: 2800, dvol: 80}\n",
        encoding="utf-8",
    )
    market = ScriptedMarket.from_file(path)
    mid = market.state(datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert (mid.index, mid.dvol) == (2900.0, 70.0)
    assert market.state(T + timedelta(days=30)).index == 2800.0


def test_decimal_marks_are_exact_text() -> None:
    q = Chain(SyntheticMarket(7).state(T), 7).all_quotes()[0]
    assert isinstance(q.mark, Decimal)


def test_working_day_rates_may_skip_easter_but_not_more(tmp_path: Path) -> None:
    # the ECB publishes no rate on Good Friday and Easter Monday: Thursday to Tuesday
    path = tmp_path / "eurusd.csv"
    path.write_text("date,close\n2025-04-17,1.13\n2025-04-22,1.14\n", encoding="utf-8")
    assert read_series(path, cadence="working").values == (1.13, 1.14)
    path.write_text("date,close\n2025-04-17,1.13\n2025-04-23,1.14\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="gap from 2025-04-17"):
        read_series(path, cadence="working")


def test_every_market_gives_the_history_tools_the_index_and_dvol_of_its_state(
    tmp_path: Path,
) -> None:
    """The candles and DVOL tools ask ``index_and_dvol`` of many instants instead of the
    whole state: the two numbers must be the state's own, for every kind of market."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "points:\n  - {time: '2026-03-02T00:00:00Z', spot: 3000, dvol: 60}\n"
        "  - {time: '2026-03-03T00:00:00Z', spot: 2800, dvol: 80}\n",
        encoding="utf-8",
    )
    historical = HistoricalMarket(
        read_bars(default_data_file("eth_usd_daily.csv")),
        read_bars(default_data_file("eth_dvol.csv")),
        seed=7,
    )
    for market, start in (
        (SyntheticMarket(7), T),
        (ScriptedMarket.from_file(path), T),
        (historical, datetime(2022, 6, 13, tzinfo=UTC)),
    ):
        for minutes in (0, 7, 61, 725, 1439, 2000):
            when = start + timedelta(minutes=minutes)
            state = market.state(when)
            assert market.index_and_dvol(when) == (state.index, state.dvol)


def test_a_market_asked_in_any_order_gives_each_instant_the_state_a_fresh_one_gives(
    tmp_path: Path,
) -> None:
    """What the historical market keeps (its last state, each day's daily series) never
    leaks from one instant to another: with the daily files, repeats and jumps back."""
    fx = tmp_path / "eurusd.csv"
    fx.write_text("date,close\n2022-06-10,1.05\n2022-06-13,1.04\n2022-06-14,1.03\n")
    funding = tmp_path / "funding.csv"
    funding.write_text(
        "date,value\n" + "".join(f"2022-06-{d:02d},0.0000{d}\n" for d in range(10, 17))
    )

    def market() -> HistoricalMarket:
        return HistoricalMarket(
            read_bars(default_data_file("eth_usd_daily.csv")),
            read_bars(default_data_file("eth_dvol.csv")),
            seed=7,
            eur_usd_daily=to_points(read_series(fx, cadence="working")),
            funding_daily=to_points(read_series(funding, "value")),
        )

    start = datetime(2022, 6, 13, tzinfo=UTC)
    hours = [0, 0, 5, 30, 5, 30, 30, 47, 1, 0]
    kept = market()
    for h in hours:
        when = start + timedelta(hours=h)
        assert kept.state(when) == market().state(when)
    assert kept.state(start).eur_usd == 1.05  # the working day before Monday the 13th
    assert kept.state(start + timedelta(hours=30)).funding_hourly == 0.000014  # the 14th's


# -- the chain's shortcuts give what the general rules give ------------------------------

_MARKS = st.integers(0, 2_000_000).map(lambda micro: Decimal(micro).scaleb(-6))
_SPREADS = st.integers(1, 500_000).map(lambda n: Decimal(n).scaleb(-7))


@settings(max_examples=1000)
@given(_MARKS, _SPREADS)
def test_bid_and_ask_in_millionths_are_the_general_rules_decimals(
    mark: Decimal, spread: Decimal
) -> None:
    fast, general = bid_ask(mark, spread), _bid_ask_decimal(mark, spread)
    assert [str(x) for x in fast] == [str(x) for x in general]  # value and digits
    bid, ask = fast
    assert ask is not None and is_on_schedule(ask, DERIBIT_ETH_OPTION_TICKS)
    assert bid == 0 or (is_on_schedule(bid, DERIBIT_ETH_OPTION_TICKS) and bid < ask)


def test_a_mark_with_more_than_six_decimals_takes_the_general_rule() -> None:
    mark = Decimal("0.01234567")
    assert bid_ask(mark, Decimal("0.0004")) == _bid_ask_decimal(mark, Decimal("0.0004"))


@given(st.integers(0, 2**31), st.text(max_size=12), st.integers(0, 10**6))
def test_draws_sharing_their_keys_are_the_draws_of_each(seed: int, name: str, hour: int) -> None:
    assert units_once(seed, (name, hour), ("bid", "ask")) == [
        unit(seed, name, hour, "bid"),
        unit(seed, name, hour, "ask"),
    ]


@settings(deadline=None)  # a long tenor at a high DVOL lists thousands of strikes
@given(
    st.floats(200, 20_000),
    st.floats(0.01, 400),
    st.floats(5, 150),
)
def test_the_wings_keep_every_other_strike_beyond_one_and_a_half_sd(
    forward: float, days: float, iv_pct: float
) -> None:
    grid = strikes(forward, days, iv_pct)
    step = strike_step(days)
    near = 1.5 * iv_pct / 100 * math.sqrt(max(days, 0.5) / 365)
    listed = set(grid)
    assert grid == sorted(listed)
    for k in range(grid[0], grid[-1] + step, step):  # the rule, in the order it reads
        kept = abs(math.log(k / forward)) <= near or (k // step) % 2 == 0
        assert (k in listed) == kept


def test_an_expiry_listed_again_with_the_same_strikes_is_the_same_listing() -> None:
    expiry = datetime(2026, 3, 27, 8, tzinfo=UTC)
    first = expiry_listings(expiry, "month", frozenset({2000, 2100, 2200}))
    again = expiry_listings(expiry, "month", frozenset({2200, 2000, 2100}))
    grown = expiry_listings(expiry, "month", frozenset({2000, 2100, 2200, 2300}))
    assert again is first
    assert [name for name, _ in grown] == [
        f"ETH-27MAR26-{k}-{t}" for k in (2000, 2100, 2200, 2300) for t in ("C", "P")
    ]
    assert grown[:6] == first  # the strikes listed before are the same instruments
