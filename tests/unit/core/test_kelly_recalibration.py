"""Sizing fraction, edge and drawdown (strategy.md 8)."""

from __future__ import annotations

import math

import pytest
from bite.core.kelly_recalibration import drawdown_pct, recalibrate_kelly
from hypothesis import given
from hypothesis import strategies as st

from tests.support import cfg, trades

CFG = cfg()


def test_no_trades_gives_the_prior() -> None:
    k = recalibrate_kelly([], CFG)
    assert k.n == 0
    assert k.f == 0.08
    assert k.risk_fraction == pytest.approx(0.02)
    assert not k.negative_edge
    assert k.drawdown_pct == 0.0


def test_estimate_matches_the_closed_form() -> None:
    rs = [0.5, 0.5, 0.5, -1.0]
    k = recalibrate_kelly(trades(rs), CFG)
    p, b = 0.75, 0.5
    f_raw = p - (1 - p) / b
    assert (k.p, k.b) == (p, b)
    assert k.f_raw == pytest.approx(f_raw)
    assert k.f == pytest.approx((4 * f_raw + 40 * 0.08) / 44)
    assert k.risk_fraction == pytest.approx(min(max(k.f * 0.25, 0.005), 0.03))


def test_zero_pnl_counts_as_neither_win_nor_loss() -> None:
    k = recalibrate_kelly(trades([0.0, 0.5, -0.5]), CFG)
    assert (k.wins, k.losses, k.n) == (1, 1, 3)
    assert k.p == 0.5


def test_all_wins_use_p_and_all_losses_use_minus_one() -> None:
    assert recalibrate_kelly(trades([0.3, 0.4]), CFG).f_raw == 1.0
    assert recalibrate_kelly(trades([-0.3, -0.4]), CFG).f_raw == -1.0


def test_only_the_last_lookback_trades_since_the_sample_count() -> None:
    many = trades([-1.0] * 10 + [0.5] * 5)
    short = cfg(kelly={"lookback_trades": 5})
    assert recalibrate_kelly(many, short).losses == 0
    since = recalibrate_kelly(many, CFG, sample_start=many[10].closed_at)
    assert (since.n, since.losses) == (5, 0)


def test_negative_edge_needs_min_trades_and_a_negative_upper_bound() -> None:
    losing = [0.3, -1.0, -0.8, 0.2] * 10  # mean -0.325 over 40 trades
    k = recalibrate_kelly(trades(losing, equity=10**6), CFG)
    assert k.n == 40
    assert k.upper_mean_r_90 is not None
    assert k.upper_mean_r_90 < 0
    assert k.negative_edge
    fewer = recalibrate_kelly(trades(losing[:39], equity=10**6), CFG)
    assert not fewer.negative_edge


def test_drawdown_throttles_then_halts() -> None:
    # equity 1000; peak +100 at 1100, then down 120 -> 10.9 % of the peak equity
    k = recalibrate_kelly(trades([1.0, -1.2], equity=1000.0, loss=100.0), CFG)
    assert k.drawdown_pct == pytest.approx(120 / 1100 * 100)
    assert k.throttled
    assert not k.halted
    unthrottled = min(max(k.f * 0.25, 0.005), 0.03)
    assert k.risk_fraction == pytest.approx(unthrottled / 2)
    halted = recalibrate_kelly(trades([1.0, -2.3], equity=1000.0), CFG)
    assert halted.halted


def test_drawdown_from_the_start_uses_the_starting_equity() -> None:
    assert drawdown_pct(trades([-1.0], equity=1000.0)) == pytest.approx(10.0)


r_values = st.floats(-1.5, 3.0, allow_nan=False).map(lambda x: round(x, 3))


@given(st.lists(r_values, min_size=1, max_size=120))
def test_estimate_matches_its_closed_form_for_any_sample(rs: list[float]) -> None:
    k = recalibrate_kelly(trades(rs, equity=10**7), CFG)
    window = rs[-100:]
    wins = [r for r in window if r > 0]
    losses = [r for r in window if r < 0]
    if not wins and not losses:
        assert k.f == 0.08
        return
    p = len(wins) / (len(wins) + len(losses))
    if wins and losses:
        b = (sum(wins) / len(wins)) / (sum(-x for x in losses) / len(losses))
        f_raw = p - (1 - p) / b
    else:
        f_raw = p if wins else -1.0
    n = len(window)
    assert k.f_raw == pytest.approx(f_raw)
    assert k.f == pytest.approx((n * f_raw + 40 * 0.08) / (n + 40))
    assert 0.005 / 2 <= k.risk_fraction <= 0.03


@given(st.floats(0.05, 0.9), st.integers(0, 400))
def test_estimate_moves_from_the_prior_toward_the_sample(win_rate: float, n: int) -> None:
    wins = round(n * win_rate)
    rs = [1.0] * wins + [-1.0] * (n - wins)
    k = recalibrate_kelly(trades(rs, equity=10**9), cfg(kelly={"lookback_trades": 1000}))
    if wins in {0, n}:
        return
    f_raw = wins / n - (1 - wins / n)
    weight = n / (n + 40)
    assert k.f == pytest.approx(weight * f_raw + (1 - weight) * 0.08)
    assert abs(k.f - f_raw) <= abs(0.08 - f_raw) + 1e-12
    assert math.isclose(k.f, 0.08 + weight * (f_raw - 0.08), abs_tol=1e-12)
