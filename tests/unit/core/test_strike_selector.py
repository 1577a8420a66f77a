"""Strike selection (strategy.md 4), on model chains and on the real chain of 2025-11-22."""

from __future__ import annotations

from datetime import timedelta

from bite.core.strike_selector import (
    candidate_expiries,
    qualify_pair,
    quote_delta,
    select_strikes,
)

from tests.support import NOW, cfg, d, load_chain_snapshot, model_chain, quote

CFG = cfg()


def test_prefers_the_expiry_nearest_the_target_dte() -> None:
    chain = model_chain(days=(9.5, 12.0, 10.5, 21.5))
    order = candidate_expiries(chain, NOW, CFG)
    assert [(x - NOW).days for x in order] == [10, 12]  # 9.5 and 21.5 are outside [10, 21]


def test_ties_on_dte_distance_go_to_the_earlier_expiry() -> None:
    chain = model_chain(days=(10.0, 12.0))
    order = candidate_expiries(chain, NOW, CFG)
    assert order[0] == NOW + timedelta(days=10)


def test_bull_bias_sells_an_otm_put_near_target_delta_and_buys_a_further_put() -> None:
    pair = select_strikes(model_chain(), "bull", d(3000), NOW, CFG)
    assert pair is not None
    short, long = pair
    assert short.option_type == long.option_type == "put"
    assert long.strike < short.strike < short.forward
    assert 0.12 <= abs(pair.short_delta) <= 0.25
    assert 3 <= float(pair.width_usd / d(3000) * 100) <= 10
    assert pair.credit_to_width >= 0.10
    assert pair.ladder_floor <= pair.ladder_top


def test_bear_bias_sells_an_otm_call_and_buys_a_further_call() -> None:
    pair = select_strikes(model_chain(), "bear", d(3000), NOW, CFG)
    assert pair is not None
    assert pair.short.option_type == "call"
    assert pair.short.forward < pair.short.strike < pair.long.strike


def test_short_candidates_are_ordered_by_distance_to_target_delta() -> None:
    chain = model_chain()
    pair = select_strikes(chain, "bull", d(3000), NOW, CFG)
    assert pair is not None
    same = [
        q
        for q in chain
        if q.expiry == pair.short.expiry and q.option_type == "put" and q.strike < q.forward
    ]
    best = min(same, key=lambda q: abs(abs(quote_delta(q, NOW)) - 0.20))
    assert pair.short.strike == best.strike


def test_no_strike_when_no_expiry_is_in_the_dte_window() -> None:
    assert select_strikes(model_chain(days=(3.0, 40.0)), "bull", d(3000), NOW, CFG) is None


def test_no_strike_when_credit_to_width_is_below_the_minimum() -> None:
    # low vol: credits are tiny against the width
    chain = model_chain(iv=15.0)
    assert select_strikes(chain, "bull", d(3000), NOW, CFG) is None


def test_no_strike_when_the_short_leg_has_no_bid() -> None:
    chain = tuple(
        q if q.option_type == "call" else type(q)(**{**q.__dict__, "bid": None})
        for q in model_chain()
    )
    assert select_strikes(chain, "bull", d(3000), NOW, CFG) is None
    assert select_strikes(chain, "bear", d(3000), NOW, CFG) is not None


def test_pair_fails_when_the_floor_rounds_above_the_mid() -> None:
    # mid credit 0.00565 meets the credit rule at spot 2994 (ratio 0.1008), but the floor
    # 0.1 x 150 / 2994 + 0.0006 = 0.00561 rounds up to 0.0057, above the top 0.0056
    short = quote(2800, "put", bid="0.0100", ask="0.0113")
    long = quote(2650, "put", bid="0.0048", ask="0.0052")
    assert qualify_pair(short, long, d(2994), NOW, CFG, -0.2) is None
    passing = qualify_pair(short, long, d(3000), NOW, CFG, -0.2)
    assert passing is not None
    assert passing.ladder_floor == passing.ladder_top == d("0.0056")


def test_real_chain_of_2025_11_22_selects_a_bull_put_spread() -> None:
    now, spot, chain = load_chain_snapshot()
    pair = select_strikes(chain, "bull", spot, now, CFG)
    assert pair is not None
    assert (pair.short.name, pair.long.name) == ("ETH-5DEC25-2400-P", "ETH-5DEC25-2200-P")
    assert 13 < pair.dte < 14
    # about 0.12 of the width at mid, a little less net of fees (strategy.md 4)
    assert 0.115 < float(pair.mid_credit * spot / pair.width_usd) < 0.14
    assert 0.10 <= pair.credit_to_width < 0.13


def test_real_chain_of_2025_11_22_selects_a_bear_call_spread() -> None:
    now, spot, chain = load_chain_snapshot()
    pair = select_strikes(chain, "bear", spot, now, CFG)
    assert pair is not None
    assert (pair.short.name, pair.long.name) == ("ETH-5DEC25-3150-C", "ETH-5DEC25-3300-C")
    assert 0.19 < pair.short_delta < 0.23
    assert pair.width_usd == d(150)
