"""The hourly monitor: a full decision at the scheduled hours, in between only when woken;
a risk exit that does not fill is left pending (no order working) and the next run closes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.scripted import at, scripted_workspace
from tests.e2e.support import Workspace


def monitor(ws: Workspace, hours: float, **kwargs: Any) -> dict[str, Any]:
    code, out = ws.json("monitor-run", now=at(hours), **kwargs)
    assert code == 0, out
    return out


def test_between_the_scheduled_hours_a_quiet_market_is_not_due(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "flat")
    assert ws.json("entry-run", now=at(0))[1]["status"] == "entered"
    first = monitor(ws, 16)  # Tuesday 06:00, a scheduled hour
    assert first["status"] == "held"
    assert first["due"] == ["scheduled"]
    quiet = monitor(ws, 17)  # 07:00: nothing moved
    assert quiet["status"] == "not_due"
    assert quiet["positions"] == [] and quiet["spot"]
    events = ws.audit_events()
    assert events.count("HOLD") == 1  # the not-due run decided nothing
    forced = ws.json("monitor-run", "--full", now=at(18))[1]
    assert forced["status"] == "held" and forced["due"][0] == "asked"
    assert monitor(ws, 28)["due"] == ["scheduled"]  # Tuesday 18:00


def test_a_falling_market_wakes_the_monitor_before_the_next_slot(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    assert ws.json("entry-run", now=at(0))[1]["status"] == "entered"
    assert monitor(ws, 52)["status"] == "held"  # Wednesday 18:00
    woken = None
    for hour in range(53, 64):  # the night before Thursday's 06:00 slot
        out = monitor(ws, hour)
        if out["status"] != "not_due":
            woken = (hour, out)
            break
    assert woken is not None, "the crash never woke the monitor"
    hour, out = woken
    assert hour < 64
    assert {"spot_moved", "near_short_strike"} & set(out["due"])


def test_an_unfilled_risk_exit_is_left_pending_and_the_next_hourly_run_closes_it(
    tmp_path: Path,
) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    # one ladder per run: what the run cannot fill is left to the next
    local = "execution:\n  retry_waits_s: [0, 0]\n  risk_exit_retry_minutes: 0\n"
    (tmp_path / "strategy.local.yaml").write_text(local, encoding="utf-8")
    assert ws.json("entry-run", now=at(0))[1]["status"] == "entered"
    # the book the run sees is far too cheap: its ladder never reaches the real touch
    cheap = {"override": {"best_ask_price": 0.0001, "best_bid_price": 0.0001, "mark_price": 0.0001}}
    first = monitor(ws, 64, faults={"deribit.ticker": cheap})
    position = first["positions"][0]
    assert first["status"] == "close_unfilled"
    rule = position["action"]
    assert rule in ("CLOSE_STOP_LOSS", "CLOSE_SHORT_BREACH")  # a risk exit
    assert "exit_pending" in position["reasons"]
    assert [state for _, state, _ in ws.broker_orders()].count("open") == 0  # nothing working
    code, status = ws.json("status", now=at(64.5))
    assert code == 0
    assert status["positions"][0]["exit_pending"] == rule
    # an hour later, not a scheduled hour: the pending exit wakes it, and it crosses further
    second = monitor(ws, 65)
    assert "exit_pending" in second["due"]
    assert second["status"] == "closed"
    closing_rule = second["positions"][0]["action"]  # the risk rule that fires now
    assert closing_rule in ("CLOSE_STOP_LOSS", "CLOSE_SHORT_BREACH")
    rows = ws.query("SELECT status, close_reason, exit_pending_rule FROM positions")
    assert rows == [("closed", closing_rule, None)]
    exits = [
        json.loads(line)["payload"]
        for line in (ws.data / "audit.log").read_bytes().splitlines()
        if b'"EXIT_PLACED"' in line
    ]
    assert len(exits) == 2
