"""The chain model against Deribit's real chains: the fit it ships and a second day's shape."""

from __future__ import annotations

import csv
import itertools
import math
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bite.config.schema import ChainModelConfig
from bite.paper.calibration import compare, read_recorded, smile_fit
from bite.paper.market import HistoricalMarket, default_data_file
from bite.paper.series import read_bars

from tests.support import CHAIN_SNAPSHOT, UI_EXPORTS

MODEL = ChainModelConfig()


@pytest.fixture(scope="module")
def market() -> HistoricalMarket:
    return HistoricalMarket(
        read_bars(default_data_file("eth_usd_daily.csv")),
        read_bars(default_data_file("eth_dvol.csv")),
        7,
    )


def test_the_model_meets_the_real_chain_of_2025_11_22(market: HistoricalMarket) -> None:
    report = compare(read_recorded(CHAIN_SNAPSHOT), market, MODEL)
    assert len(report["expiries"]) == 11
    for row in report["expiries"]:
        assert abs(row["model_atm_iv"] - row["atm_iv"]) <= 3.0, row
        if row["days"] <= 130:  # the tenors a weekly spread is chosen from, and well beyond
            assert row["delta20_put_strikes_apart"] <= 1, row
            assert row["delta20_call_strikes_apart"] <= 1, row
    near = [b for b in report["moneyness"] if b["moneyness"] in ("-0.10..-0.03", "+0.03..+0.10")]
    assert all(abs(b["iv_error_mean"]) < 3.5 for b in near)


def _export_points(path: Path, at: datetime) -> list[tuple[float, float]]:
    """(z, iv / atm) of the out-of-the-money options of a Deribit UI chain export."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    marks: dict[tuple[float, str], float] = {}
    ivs: dict[tuple[float, str], float] = {}
    for row in rows:
        _, code, strike, letter = row[0].split("-")
        if row[14] not in ("", "-"):
            marks[(float(strike), letter)] = float(row[14])
        if row[12] not in ("", "-") and row[16] not in ("", "-"):
            ivs[(float(strike), letter)] = (float(row[12]) + float(row[16])) / 2
    expiry = datetime.strptime(code, "%d%b%y").replace(hour=8, tzinfo=UTC)
    t = (expiry - at).total_seconds() / (365 * 86400)
    forwards = [  # put-call parity in ETH: C - P = (F - K) / F
        k / (1 - (marks[(k, "C")] - marks[(k, "P")]))
        for k, letter in marks
        if letter == "C" and (k, "P") in marks
    ]
    forward = statistics.median(forwards)
    otm = {
        k: iv
        for (k, letter), iv in ivs.items()
        if (letter == "P" and k < forward) or (letter == "C" and k >= forward)
    }
    near = sorted(otm, key=lambda k: abs(math.log(k / forward)))[:2]
    atm = statistics.fmean(otm[k] for k in near)
    points = []
    for k, iv in otm.items():
        z = math.log(k / forward) / (atm / 100 * math.sqrt(t))
        if abs(z) <= 3:
            points.append((z, iv / atm))
    return points


@pytest.mark.parametrize("name", ["ETH-28NOV25-export.csv", "ETH-5DEC25-export.csv"])
def test_the_smile_of_2025_11_18_has_the_shape_fitted_on_2025_11_22(name: str) -> None:
    # the exports carry no time: noon UTC of the day they were taken
    points = _export_points(UI_EXPORTS / name, datetime(2025, 11, 18, 12, tzinfo=UTC))
    skew, curvature = smile_fit(points)
    assert skew < 0 < curvature  # both wings rise, the puts faster
    assert skew == pytest.approx(MODEL.skew, abs=0.03)
    assert curvature == pytest.approx(MODEL.curvature, abs=0.03)


def test_the_shipped_smile_parameters_are_the_least_squares_fit_of_the_snapshot() -> None:
    rows = read_recorded(CHAIN_SNAPSHOT)
    points = []
    by_expiry: dict[datetime, list[tuple[float, float, str]]] = {}
    for q in rows:
        by_expiry.setdefault(q.expiry, []).append((q.strike, q.mark_iv, q.option_type))
    at = max(q.time for q in rows)
    for expiry, quotes in by_expiry.items():
        days = (expiry - at).total_seconds() / 86400
        if not 5 <= days <= 40:
            continue
        forward = next(q.forward for q in rows if q.expiry == expiry)
        calls = sorted((math.log(k / forward), iv) for k, iv, kind in quotes if kind == "call")
        atm = next(
            v1 + (v2 - v1) * (0 - k1) / (k2 - k1)
            for (k1, v1), (k2, v2) in itertools.pairwise(calls)
            if k1 <= 0 <= k2
        )
        for k, iv, kind in quotes:
            x = math.log(k / forward)
            if (kind == "put" and x < 0) or (kind == "call" and x >= 0):
                z = x / (atm / 100 * math.sqrt(days / 365))
                if abs(z) <= 3.5:
                    points.append((z, iv / atm))
    skew, curvature = smile_fit(points)
    assert (round(skew, 4), round(curvature, 4)) == (MODEL.skew, MODEL.curvature)


def test_recorded_chains_are_kept_one_an_hour_and_pruned_by_age(tmp_path: Path) -> None:
    from bite.clients.deribit_json import ChainSnapshot
    from bite.jobs.chains import prune_chains, record_chain

    from tests.support import load_chain_snapshot

    _, _, quotes = load_chain_snapshot()
    chain = ChainSnapshot(tuple(quotes), 0, 0)
    first = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
    written = record_chain(tmp_path, chain, first)
    assert written is not None
    assert record_chain(tmp_path, chain, first.replace(minute=40)) is None  # one an hour
    back = read_recorded(written)
    assert {q.name for q in back} == {q.name for q in quotes}
    (tmp_path / "chains" / "mine.csv").write_text("an operator's file", encoding="utf-8")
    later = first.replace(day=20)
    assert record_chain(tmp_path, chain, later) is not None
    assert prune_chains(tmp_path, later, keep_days=10) == (written.name,)
    assert sorted(p.name for p in (tmp_path / "chains").iterdir()) == [
        "chain-20260320T14Z.csv.gz",
        "mine.csv",
    ]
