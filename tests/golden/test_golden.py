"""Golden scenarios: each YAML file under tests/golden/ is inputs and the expected decision.

A scenario's ``kind`` says which rule it drives; the expected values are written
out by hand in the file, from the spec's rules, so a change of behaviour shows
up as a failing file.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from bite.core.bias import assess_bias
from bite.core.entry_validator import validate_entry
from bite.core.exit_decision import evaluate
from bite.core.kelly_recalibration import recalibrate_kelly
from bite.core.liquidity_gate import check_liquidity
from bite.core.sizing_engine import compute_contracts
from bite.core.strike_selector import select_strikes
from bite.core.types import ExitSnapshot, MacroEvent, PositionView, SizingContext

from tests.support import (
    NOW,
    cfg,
    d,
    good_entry_context,
    load_chain_snapshot,
    model_chain,
    neutral_kelly,
    quote,
    trades,
    trending_closes,
)

HERE = Path(__file__).parent
SCENARIOS = sorted(HERE.glob("*.yaml"))


def _quote(spec: dict[str, Any], *, expiry: datetime, now: datetime) -> Any:
    return quote(
        spec["strike"],
        spec["type"],
        bid=spec.get("bid"),
        ask=spec.get("ask"),
        mark=spec.get("mark"),
        iv=spec.get("iv", 60.0),
        forward=spec.get("forward", 3000),
        expiry=expiry,
        now=now,
        oi=spec.get("open_interest", 500.0),
        bid_amount=spec.get("bid_amount", 100.0),
        ask_amount=spec.get("ask_amount", 100.0),
        delta=spec.get("delta"),
    )


def run_entry(s: dict[str, Any]) -> dict[str, Any]:
    inputs = dict(s["inputs"])
    events = inputs.pop("macro_events", [])
    kelly = inputs.pop("kelly", None)
    changes: dict[str, Any] = {
        k: d(v) if k in ("equity_eur", "spot") else v for k, v in inputs.items()
    }
    changes["macro_events"] = tuple(
        MacroEvent(e["name"], NOW + timedelta(hours=e["hours_ahead"]), e["impact"]) for e in events
    )
    if kelly:
        changes["kelly"] = neutral_kelly(**kelly)
    decision = validate_entry(good_entry_context(**changes), cfg(**s.get("config", {})))
    return {"accepted": decision.accepted, "reasons": list(decision.reasons)}


def run_strikes_real_chain(s: dict[str, Any]) -> dict[str, Any]:
    now, spot, chain = load_chain_snapshot()
    pair = select_strikes(chain, s["inputs"]["bias"], spot, now, cfg(**s.get("config", {})))
    if pair is None:
        return {"pair": None}
    return {
        "short": pair.short.name,
        "long": pair.long.name,
        "width_usd": int(pair.width_usd),
        "ladder_floor": str(pair.ladder_floor),
        "ladder_top": str(pair.ladder_top),
    }


def run_strikes_model(s: dict[str, Any]) -> dict[str, Any]:
    i = s["inputs"]
    chain = model_chain(
        forward=i.get("forward", 3000.0),
        iv=i.get("iv", 60.0),
        days=tuple(i.get("days", (4.75, 11.75, 18.75, 32.75))),
    )
    pair = select_strikes(
        chain, i["bias"], d(i.get("forward", 3000)), NOW, cfg(**s.get("config", {}))
    )
    if pair is None:
        return {"pair": None}
    return {
        "short": int(pair.short.strike),
        "long": int(pair.long.strike),
        "dte": round(pair.dte, 2),
    }


def run_exit(s: dict[str, Any]) -> dict[str, Any]:
    i = s["inputs"]
    now = NOW + timedelta(hours=i.get("hours_after_entry_slot", 0))
    expiry = NOW + timedelta(hours=i["expiry_hours_after_entry_slot"])
    p = i["position"]
    position = PositionView(
        position_id="g",
        spread_type=p["spread_type"],
        short_name="S",
        long_name="L",
        short_strike=d(i["short"]["strike"]),
        long_strike=d(i["long"]["strike"]),
        expiry=expiry,
        contracts=p["contracts"],
        credit_eth=d(p["credit_eth"]),
        dvol_at_entry=p["dvol_at_entry"],
    )
    snap = ExitSnapshot(
        position=position,
        short=_quote(i["short"], expiry=expiry, now=now),
        long=_quote(i["long"], expiry=expiry, now=now),
        spot=d(i["spot"]),
        now=now,
        dvol=i["dvol"],
        return_4h_pct=i["return_4h_pct"],
    )
    decision = evaluate(snap, cfg(**s.get("config", {})))
    return {
        "action": decision.action,
        "degraded_quote": decision.degraded_quote,
        "ladder": [str(p) for p in decision.ladder],
    }


def run_sizing(s: dict[str, Any]) -> dict[str, Any]:
    i = s["inputs"]
    ctx = SizingContext(
        equity_eur=d(i["equity_eur"]),
        equity_eth=d(i["equity_eth"]),
        eur_usd=d(i["eur_usd"]),
        risk_fraction=i["risk_fraction"],
        halve_for_macro=i.get("halve_for_macro", False),
        width_usd=d(i["width_usd"]),
        fees_round_trip_eth=d(i["fees_round_trip_eth"]),
        spot=d(i["spot"]),
        short=_quote(i["short"], expiry=NOW + timedelta(days=11), now=NOW),
        long=_quote(i["long"], expiry=NOW + timedelta(days=11), now=NOW),
        account_initial_margin_eth=d(i["account_initial_margin_eth"]),
        order_margin_eth_per_contract=(
            d(i["order_margin_eth_per_contract"])
            if i.get("order_margin_eth_per_contract")
            else None
        ),
    )
    r = compute_contracts(ctx, cfg(**s.get("config", {})))
    return {"contracts": r.contracts, "reason": r.reason, "binding_cap": r.binding_cap}


def run_liquidity(s: dict[str, Any]) -> dict[str, Any]:
    i = s["inputs"]
    expiry = NOW + timedelta(days=11)
    r = check_liquidity(
        _quote(i["short"], expiry=expiry, now=NOW),
        _quote(i["long"], expiry=expiry, now=NOW),
        i["contracts"],
        cfg(**s.get("config", {})),
        spot=d(i["spot"]),
    )
    return {"passed": r.passed, "reasons": list(r.reasons)}


def run_kelly(s: dict[str, Any]) -> dict[str, Any]:
    i = s["inputs"]
    k = recalibrate_kelly(
        trades(i["r_multiples"], equity=i["equity_eur"]), cfg(**s.get("config", {}))
    )
    return {
        "n": k.n,
        "wins": k.wins,
        "losses": k.losses,
        "f_raw": None if k.f_raw is None else round(k.f_raw, 6),
        "risk_fraction": round(k.risk_fraction, 6),
        "negative_edge": k.negative_edge,
        "throttled": k.throttled,
        "halted": k.halted,
    }


def run_bias(s: dict[str, Any]) -> dict[str, Any]:
    i = s["inputs"]
    closes = trending_closes(NOW.date() - timedelta(days=1), i["days"], i["start"], i["daily_pct"])
    spot = closes[-1].close * Decimal(str(i["spot_vs_last_close"]))
    a = assess_bias(spot, closes, i["funding_annual_pct"], cfg(**s.get("config", {})).bias)
    return {"bias": a.bias, "reasons": list(a.reasons)}


RUNNERS = {
    "entry": run_entry,
    "strikes_real_chain": run_strikes_real_chain,
    "strikes_model": run_strikes_model,
    "exit": run_exit,
    "sizing": run_sizing,
    "liquidity": run_liquidity,
    "kelly": run_kelly,
    "bias": run_bias,
}


def test_there_are_enough_golden_scenarios() -> None:
    assert len(SCENARIOS) >= 12
    kinds = {yaml.safe_load(p.read_text(encoding="utf-8"))["kind"] for p in SCENARIOS}
    assert kinds == set(RUNNERS)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_golden_scenario(path: Path) -> None:
    scenario = yaml.safe_load(path.read_text(encoding="utf-8"))
    got = RUNNERS[scenario["kind"]](scenario)
    expected = scenario["expect"]
    assert {k: got.get(k) for k in expected} == expected, scenario["title"]
