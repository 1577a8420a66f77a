"""What a trader reads of a backtest: each measure on numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from bite.backtest import stats


def test_the_break_even_hit_rate_is_the_loss_over_win_plus_loss() -> None:
    # wins of +0.071 R and losses of -0.214 R need about 75 % to break even
    hit, breakeven = stats.hit_rates([0.071] * 6 + [-0.214] * 4)
    assert hit == 0.6
    assert breakeven == pytest.approx(0.214 / (0.071 + 0.214))


def test_the_bootstrap_interval_is_reproducible_from_its_seed_and_brackets_the_mean() -> None:
    rs = [0.05, -0.2, 0.07, 0.06, -0.3, 0.08, 0.04, -0.1, 0.07, 0.05]
    first = stats.bootstrap_mean_ci(rs, seed=7)
    assert first == stats.bootstrap_mean_ci(rs, seed=7)
    assert first != stats.bootstrap_mean_ci(rs, seed=8)
    assert first is not None
    low, high = first
    assert low < sum(rs) / len(rs) < high
    assert stats.bootstrap_mean_ci([0.1], seed=7) is None


def test_drawdowns_in_money_and_in_percent() -> None:
    assert stats.max_drawdown([0, 100, 40, 120, 60, 130]) == 60
    assert stats.max_drawdown_pct([100, 150, 75, 200]) == 50
    assert stats.max_drawdown([1, 2, 3]) == 0


def test_weekly_pnl_counts_empty_weeks_as_zero() -> None:
    closes = [
        (datetime(2024, 1, 3, tzinfo=UTC), 10.0),  # week of Monday 1 January
        (datetime(2024, 1, 5, tzinfo=UTC), -4.0),
        (datetime(2024, 1, 17, tzinfo=UTC), 7.0),  # the third week
    ]
    assert stats.weekly_pnl(closes, date(2024, 1, 1), date(2024, 1, 21)) == [6.0, 0.0, 7.0]


def test_sharpe_and_sortino_per_week() -> None:
    weekly = [10.0, -5.0, 10.0, -5.0]
    assert stats.sharpe(weekly) == pytest.approx(2.5 / 8.660254, rel=1e-6)
    assert stats.sortino(weekly) == pytest.approx(2.5 / (12.5**0.5), rel=1e-6)
    assert stats.sortino([1.0, 2.0]) is None  # no losing week: no downside to divide by
