"""Entry validation rules (strategy.md 2): each reason fires, and just inside it does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from bite.core.entry_validator import macro_hold, validate_entry, validate_proposal
from bite.core.types import MacroEvent, PositionGreeks

from tests.support import NOW, cfg, d, good_entry_context, neutral_kelly, zigzag_closes

CFG = cfg()


def reasons(**changes: Any) -> tuple[str, ...]:
    return validate_entry(good_entry_context(**changes), CFG).reasons


def stamps_with(source: str, age_minutes: float) -> tuple[tuple[str, Any], ...]:
    ctx = good_entry_context()
    return tuple(
        (s, NOW - timedelta(minutes=age_minutes)) if s == source else (s, t)
        for s, t in ctx.timestamps
    )


def event(hours_ahead: float, impact: str = "high") -> MacroEvent:
    return MacroEvent(
        name="FOMC",
        time=NOW + timedelta(hours=hours_ahead),
        impact=impact,  # type: ignore[arg-type]
        country="US",
    )


def test_accepts_entry_when_every_rule_passes() -> None:
    decision = validate_entry(good_entry_context(), CFG)
    assert decision.accepted
    assert decision.reasons == ()
    numbers = dict(decision.numbers)
    assert numbers["dvol"] == 70.0
    assert numbers["vol_premium"] is not None


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("kill_switch_armed", {"kill_switch_armed": True}, {"kill_switch_armed": False}),
    ("max_positions", {"open_positions": 1}, {"open_positions": 0}),
    ("dvol_low", {"dvol": 39.9, "dvol_24h_ago": 39.0}, {"dvol": 40.0, "dvol_24h_ago": 39.0}),
    ("dvol_high", {"dvol": 110.1, "dvol_24h_ago": 105.0}, {"dvol": 110.0, "dvol_24h_ago": 105.0}),
    ("dvol_spike", {"dvol": 80.0, "dvol_24h_ago": 69.9}, {"dvol": 80.0, "dvol_24h_ago": 70.0}),
    ("price_shock", {"return_24h_pct": -8.01}, {"return_24h_pct": -8.0}),
    ("funding_extreme", {"funding_annual_pct": -100.5}, {"funding_annual_pct": 100.0}),
    ("macro_blackout", {"macro_events": (event(47.9),)}, {"macro_events": (event(48.1),)}),
    ("calendar_stale", {"macro_events": None}, {"macro_events": ()}),
    (
        "calendar_stale",
        {"calendar_horizon": NOW + timedelta(days=29)},
        {"calendar_horizon": NOW + timedelta(days=31)},
    ),
    ("sentiment_extreme", {"fear_greed": 9}, {"fear_greed": 10}),
    ("sentiment_extreme", {"fear_greed": 91}, {"fear_greed": 90}),
    ("equity_low", {"equity_eur": d("9999.99")}, {"equity_eur": d("10000")}),
    (
        "drawdown_halt",
        {"kelly": neutral_kelly(drawdown_pct=20.0, halted=True)},
        {"kelly": neutral_kelly(drawdown_pct=19.9, throttled=True)},
    ),
    (
        "negative_edge",
        {"kelly": neutral_kelly(negative_edge=True)},
        {"kelly": neutral_kelly(negative_edge=False)},
    ),
    (
        "stale_data",
        {"timestamps": stamps_with("index", 5.1)},
        {"timestamps": stamps_with("index", 4.9)},
    ),
    (
        "stale_data",
        {"timestamps": stamps_with("eur_usd", 10081)},
        {"timestamps": stamps_with("eur_usd", 10079)},
    ),
    (
        "input_unavailable",
        {"unavailable": ("hyperliquid",), "funding_annual_pct": None},
        {"unavailable": ()},
    ),
]


@pytest.mark.parametrize(
    ("reason", "trip", "keep"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_rule_fires_only_past_its_threshold(
    reason: str, trip: dict[str, Any], keep: dict[str, Any]
) -> None:
    assert reason in reasons(**trip)
    assert reason not in reasons(**keep)


def test_rejects_entry_when_dvol_below_floor() -> None:
    decision = validate_entry(good_entry_context(dvol=35.0, dvol_24h_ago=35.0), CFG)
    assert not decision.accepted
    assert "dvol_low" in decision.reasons


def test_rejects_entry_when_vol_premium_is_thin() -> None:
    # 2 % zigzag closes give about 40 % realized vol; DVOL 44 leaves a 4-point premium
    decision = validate_entry(good_entry_context(dvol=44.0, dvol_24h_ago=44.0), CFG)
    premium = dict(decision.numbers)["vol_premium"]
    assert isinstance(premium, float)
    assert premium < 5
    assert decision.reasons == ("vol_premium_low",)


def test_accepts_a_vol_premium_just_above_the_minimum() -> None:
    closes = zigzag_closes(NOW.date() - timedelta(days=1), 130, 3000.0, 2.0)
    ctx = good_entry_context(daily_closes=closes)
    rv = ctx.dvol - dict(validate_entry(ctx, CFG).numbers)["vol_premium"]  # type: ignore[operator]
    ok = validate_entry(replace(ctx, dvol=rv + 5.01, dvol_24h_ago=rv), CFG)
    assert "vol_premium_low" not in ok.reasons


def test_refuses_when_yesterdays_daily_candle_is_missing() -> None:
    closes = zigzag_closes(NOW.date() - timedelta(days=2), 130, 3000.0, 2.0)
    decision = validate_entry(good_entry_context(daily_closes=closes), CFG)
    assert decision.reasons == ("stale_data",)
    assert dict(decision.numbers)["stale_sources"] == "daily_candles"


def test_blackout_ignores_events_below_the_minimum_impact() -> None:
    assert "macro_blackout" not in reasons(macro_events=(event(5, "medium"),))
    low_cfg = cfg(entry={"macro_min_impact": "medium"})
    ctx = good_entry_context(macro_events=(event(5, "medium"),))
    assert "macro_blackout" in validate_entry(ctx, low_cfg).reasons


def test_negative_edge_does_not_block_when_configured_not_to() -> None:
    ctx = good_entry_context(kelly=neutral_kelly(negative_edge=True))
    assert validate_entry(ctx, cfg(kelly={"block_on_negative_edge": False})).accepted


def test_collects_every_failing_reason_in_a_stable_order() -> None:
    decision = validate_entry(
        good_entry_context(
            kill_switch_armed=True, fear_greed=95, equity_eur=d(1), dvol=150.0, dvol_24h_ago=150.0
        ),
        CFG,
    )
    assert decision.reasons == ("kill_switch_armed", "dvol_high", "sentiment_extreme", "equity_low")


def test_macro_hold_halves_for_an_event_inside_the_holding_period() -> None:
    expiry = NOW + timedelta(days=11, hours=18)
    hold = macro_hold((event(24 * 5),), NOW, expiry, CFG)
    assert hold.action == "halve"
    assert [e.name for e in hold.events] == ["FOMC"]


def test_macro_hold_ignores_events_after_the_planned_exit() -> None:
    expiry = NOW + timedelta(days=11, hours=18)
    after_exit = (expiry - NOW).total_seconds() / 3600 - 99
    assert macro_hold((event(after_exit),), NOW, expiry, CFG).action == "none"


def test_macro_hold_blocks_or_ignores_as_configured() -> None:
    expiry = NOW + timedelta(days=11, hours=18)
    events = (event(24 * 5),)
    assert (
        macro_hold(events, NOW, expiry, cfg(entry={"macro_hold_policy": "block"})).action == "block"
    )
    assert (
        macro_hold(events, NOW, expiry, cfg(entry={"macro_hold_policy": "ignore"})).action == "none"
    )


def test_delta_limit_refuses_a_proposal_that_pushes_net_delta_past_the_cap() -> None:
    from tests.support import sample_proposal

    proposal = sample_proposal(n=10)
    limited = cfg(sizing={"max_abs_net_delta_eth": 0.5})
    assert abs(proposal.greeks.delta) > 0.5
    assert validate_proposal(proposal, PositionGreeks(), limited).reasons == ("delta_limit",)
    offset = PositionGreeks(delta=-proposal.greeks.delta)
    assert validate_proposal(proposal, offset, limited).accepted
    assert validate_proposal(proposal, PositionGreeks(), CFG).accepted
