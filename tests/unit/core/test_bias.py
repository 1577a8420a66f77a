"""Trend bias (strategy.md 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bite.core.bias import assess_bias, compute_bias
from bite.core.indicators import ema, realized_vol_pct

from tests.support import NOW, cfg, d, trending_closes

B = cfg().bias
YESTERDAY = NOW.date() - timedelta(days=1)
UP = trending_closes(YESTERDAY, 120, 2000.0, 0.3)
DOWN = trending_closes(YESTERDAY, 120, 4000.0, -0.3)


def test_bull_when_spot_above_fast_above_slow() -> None:
    spot = UP[-1].close * d("1.003")
    a = assess_bias(spot, UP, 10.0, B)
    assert a.bias == "bull"
    assert a.ema_fast is not None and a.ema_slow is not None
    assert float(spot) > a.ema_fast > a.ema_slow
    assert a.reasons == ()


def test_bear_when_spot_below_fast_below_slow() -> None:
    assert compute_bias(DOWN[-1].close * d("0.997"), DOWN, -10.0, B) == "bear"


def test_no_bias_in_a_flat_market() -> None:
    flat = trending_closes(YESTERDAY, 120, 3000.0, 0.0)
    a = assess_bias(d(3000), flat, 0.0, B)
    assert a.bias is None
    assert a.reasons == ("no_bias",)


def test_no_bull_after_a_seven_day_fall_beyond_the_limit() -> None:
    # a strong uptrend, but spot 5.1 % below the close seven days back
    spot = UP[-7].close * d("0.949")
    assert compute_bias(spot, UP, 10.0, B) is None
    # with a lower spot, the EMAs would no longer hold: check the counter-return alone
    loose = cfg(bias={"max_counter_return_7d_pct": 50}).bias
    assert assess_bias(UP[-1].close * d("1.003"), UP, 10.0, loose).bias == "bull"


def test_no_bull_when_funding_is_overheated() -> None:
    spot = UP[-1].close * d("1.003")
    assert compute_bias(spot, UP, 60.0, B) is None
    assert compute_bias(spot, UP, 59.9, B) == "bull"


def test_no_bear_when_funding_is_deeply_negative() -> None:
    spot = DOWN[-1].close * d("0.997")
    assert compute_bias(spot, DOWN, -60.0, B) is None
    assert compute_bias(spot, DOWN, -59.9, B) == "bear"


def test_no_bias_without_enough_history() -> None:
    a = assess_bias(d(3000), UP[-100:], 10.0, B)
    assert a.reasons == ("no_bias", "short_history")


def test_ema_is_seeded_with_the_sma() -> None:
    assert ema([1.0, 2.0, 3.0], 3) == 2.0
    assert ema([1.0, 2.0, 3.0, 6.0], 3) == pytest.approx(0.5 * 6 + 0.5 * 2)
    assert ema([1.0], 3) is None


def test_realized_vol_uses_the_sample_sd_of_log_returns() -> None:
    closes = [d(100), d(110), d(100), d(110)] * 3
    rv = realized_vol_pct(closes[-11:], 10)
    assert rv is not None
    assert 100 < rv < 200
    assert realized_vol_pct([d(1)] * 5, 10) is None
