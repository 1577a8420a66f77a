"""Exit decision (strategy.md 10): each rule, their priority, and the closing ladder."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bite.core.exit_decision import evaluate, exit_price_cap
from bite.core.ticks import is_on_tick, round_up
from bite.core.types import ExitSnapshot, OptionType, PositionView
from hypothesis import given
from hypothesis import strategies as st

from tests.support import NOW, cfg, d, quote

CFG = cfg()
TICK = Decimal("0.0001")
EXPIRY = NOW + timedelta(days=11, hours=18)

BULL = PositionView(
    position_id="p1",
    spread_type="bull_put",
    short_name="S",
    long_name="L",
    short_strike=d(2800),
    long_strike=d(2650),
    expiry=EXPIRY,
    contracts=3,
    credit_eth=d("0.0060"),
    dvol_at_entry=60.0,
)
BEAR = replace(BULL, spread_type="bear_call", short_strike=d(3200), long_strike=d(3350))


def snap(
    position: PositionView = BULL,
    *,
    short_bid: str | None = "0.0100",
    short_ask: str | None = "0.0105",
    long_bid: str | None = "0.0050",
    long_ask: str | None = "0.0053",
    short_delta: float = -0.2,
    spot: str = "3000",
    dvol: float = 62.0,
    ret4h: float = 0.0,
    now: Any = NOW,
) -> ExitSnapshot:
    kind: OptionType = "put" if position.spread_type == "bull_put" else "call"
    sign = 1 if kind == "call" else -1
    short = quote(
        float(position.short_strike),
        kind,
        bid=short_bid,
        ask=short_ask,
        mark="0.0102",
        delta=sign * abs(short_delta),
        expiry=position.expiry,
        now=now,
    )
    long = quote(
        float(position.long_strike),
        kind,
        bid=long_bid,
        ask=long_ask,
        mark="0.0051",
        delta=sign * 0.1,
        expiry=position.expiry,
        now=now,
    )
    return ExitSnapshot(
        position=position,
        short=short,
        long=long,
        spot=d(spot),
        now=now,
        dvol=dvol,
        return_4h_pct=ret4h,
    )


def action(s: ExitSnapshot) -> str:
    return evaluate(s, CFG).action


def test_holds_when_no_rule_fires() -> None:
    decision = evaluate(snap(), CFG)
    assert decision.action == "HOLD"
    assert not decision.is_risk_exit
    assert decision.debit_mid == d("0.0051")
    assert decision.debit_touch == d("0.0055")
    assert dict(decision.numbers)["hours_left"] == 282.0


def test_closes_at_the_stop_when_the_mid_loss_reaches_twice_the_credit() -> None:
    # D_mid 0.0235 - 0.0050 = 0.0185; loss 0.0125 >= 2 x 0.0060
    s = snap(short_bid="0.0230", short_ask="0.0240", long_bid="0.0048", long_ask="0.0052")
    decision = evaluate(s, CFG)
    assert decision.action == "CLOSE_STOP_LOSS"
    assert decision.is_risk_exit


def test_does_not_stop_just_below_twice_the_credit() -> None:
    # D_mid 0.0229 - 0.0050 = 0.0179; loss 0.0119 < 0.0120
    s = snap(short_bid="0.0224", short_ask="0.0234", long_bid="0.0048", long_ask="0.0052")
    assert action(s) != "CLOSE_STOP_LOSS"


def test_stop_uses_the_mid_not_a_momentarily_wide_touch() -> None:
    s = snap(short_bid="0.0100", short_ask="0.0300", long_bid="0.0010", long_ask="0.0090")
    assert evaluate(s, CFG).debit_touch == d("0.0290")
    assert action(s) == "HOLD"


def test_breach_when_spot_crosses_the_short_strike() -> None:
    assert action(snap(spot="2799")) == "CLOSE_SHORT_BREACH"
    assert action(snap(spot="2800")) == "HOLD"
    assert action(snap(BEAR, spot="3201", short_delta=0.2)) == "CLOSE_SHORT_BREACH"
    assert action(snap(BEAR, spot="3199", short_delta=0.2)) == "HOLD"


def test_breach_when_the_short_delta_reaches_the_limit() -> None:
    assert action(snap(short_delta=-0.40)) == "CLOSE_SHORT_BREACH"
    assert action(snap(short_delta=-0.39)) == "HOLD"


def test_vol_shock_needs_the_dvol_rise_and_a_move_against_the_position() -> None:
    assert action(snap(dvol=75.0, ret4h=-3.0)) == "CLOSE_VOL_SHOCK"
    assert action(snap(dvol=74.9, ret4h=-5.0)) == "HOLD"
    assert action(snap(dvol=80.0, ret4h=-2.9)) == "HOLD"
    assert action(snap(dvol=80.0, ret4h=+5.0)) == "HOLD"  # in the bull put's favour
    assert action(snap(BEAR, dvol=80.0, ret4h=+3.0, short_delta=0.2)) == "CLOSE_VOL_SHOCK"


def test_time_exit_when_a_hundred_hours_are_left() -> None:
    at_limit = EXPIRY - timedelta(hours=100)
    assert action(snap(now=at_limit)) == "CLOSE_TIME"
    assert action(snap(now=at_limit - timedelta(minutes=1))) == "HOLD"
    assert not evaluate(snap(now=at_limit), CFG).is_risk_exit


def test_profit_when_the_touch_debit_keeps_half_the_credit() -> None:
    assert (
        action(snap(short_bid="0.0035", short_ask="0.0040", long_bid="0.0010", long_ask="0.0012"))
        == "CLOSE_PROFIT"
    )  # touch 0.0030 = 0.5 x C
    assert (
        action(snap(short_bid="0.0035", short_ask="0.0041", long_bid="0.0010", long_ask="0.0012"))
        == "HOLD"
    )  # touch 0.0031


def test_stop_wins_over_a_breach_and_a_breach_over_a_vol_shock() -> None:
    s = snap(
        short_bid="0.0230",
        short_ask="0.0240",
        long_bid="0.0048",
        long_ask="0.0052",
        spot="2700",
        dvol=90.0,
        ret4h=-6.0,
    )
    assert action(s) == "CLOSE_STOP_LOSS"
    assert action(snap(spot="2700", dvol=90.0, ret4h=-6.0)) == "CLOSE_SHORT_BREACH"


def test_an_empty_book_side_uses_the_mark_and_flags_degraded_quote() -> None:
    decision = evaluate(snap(short_ask=None), CFG)
    assert decision.degraded_quote
    # the short's ask is replaced by its mark 0.0102
    assert decision.debit_touch == d("0.0102") - d("0.0050")


def test_degraded_ladder_is_capped_near_the_spread_mark() -> None:
    decision = evaluate(snap(short_ask=None, short_bid="0.0010", long_bid="0.0050"), CFG)
    mark = d("0.0102") - d("0.0051")
    share = d(10) / 100 * d(150) / d(3000)
    cap = mark + max(4 * TICK, share)
    assert all(p <= cap for p in decision.ladder)


def test_closing_ladder_runs_from_mid_to_touch_rounded_up() -> None:
    decision = evaluate(snap(), CFG)
    assert decision.ladder == (d("0.0051"), d("0.0053"), d("0.0054"), d("0.0055"))


quote_price = st.integers(1, 2000).map(lambda k: Decimal(k) * TICK)


@given(
    short_bid=quote_price,
    short_extra=st.integers(0, 300),
    long_bid=quote_price,
    long_extra=st.integers(0, 300),
    width=st.sampled_from([25, 50, 100, 150, 300]),
    drop=st.sampled_from(["none", "short_ask", "long_bid", "short_bid"]),
)
def test_every_exit_price_is_on_tick_positive_and_below_the_width(
    short_bid: Decimal, short_extra: int, long_bid: Decimal, long_extra: int, width: int, drop: str
) -> None:
    short_ask = short_bid + short_extra * TICK
    long_ask = long_bid + long_extra * TICK
    position = replace(BULL, long_strike=BULL.short_strike - width)
    s = snap(
        position,
        short_bid=None if drop == "short_bid" else str(short_bid),
        short_ask=None if drop == "short_ask" else str(short_ask),
        long_bid=None if drop == "long_bid" else str(long_bid),
        long_ask=str(long_ask),
    )
    decision = evaluate(s, CFG)
    cap = exit_price_cap(position.width_usd, s.short.forward, TICK)
    assert cap < position.width_usd / s.short.forward
    for price in decision.ladder:
        assert is_on_tick(price, TICK)
        assert TICK <= price <= cap
    if (
        not decision.degraded_quote
        and decision.debit_mid >= TICK
        and round_up(decision.debit_touch, TICK) <= cap
    ):
        for price in decision.ladder:
            assert decision.debit_mid <= price <= decision.debit_touch


RULES = ["stop", "breach", "vol", "time", "profit"]
EXPECTED = {
    "stop": "CLOSE_STOP_LOSS",
    "breach": "CLOSE_SHORT_BREACH",
    "vol": "CLOSE_VOL_SHOCK",
    "time": "CLOSE_TIME",
    "profit": "CLOSE_PROFIT",
}


@given(st.sets(st.sampled_from(RULES)))
def test_exit_rules_fire_in_priority_order(firing: set[str]) -> None:
    kwargs: dict[str, Any] = {}
    if "stop" in firing:
        kwargs.update(short_bid="0.0230", short_ask="0.0240", long_bid="0.0048", long_ask="0.0052")
    elif "profit" in firing:
        kwargs.update(short_bid="0.0035", short_ask="0.0040", long_bid="0.0010", long_ask="0.0012")
    if "breach" in firing:
        kwargs["short_delta"] = -0.45
    if "vol" in firing:
        kwargs.update(dvol=80.0, ret4h=-4.0)
    if "time" in firing:
        kwargs["now"] = EXPIRY - timedelta(hours=50)
    expected = next((EXPECTED[r] for r in RULES if r in firing), "HOLD")
    assert action(snap(**kwargs)) == expected
