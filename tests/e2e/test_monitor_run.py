"""monitor-run end to end: each exit rule reaching its close on a scripted market."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.scripted import at, scripted_workspace
from tests.e2e.support import Workspace


def enter(ws: Workspace) -> dict[str, Any]:
    code, out = ws.json("entry-run", now=at(0))
    assert (code, out["status"]) == (0, "entered"), out
    return out


def monitor(ws: Workspace, hours: float) -> dict[str, Any]:
    code, out = ws.json("monitor-run", now=at(hours))
    assert code == 0, out
    return out


@pytest.mark.parametrize(
    ("path", "hours", "rule", "extra"),
    [
        ("rally", 28, "CLOSE_PROFIT", ""),
        ("crash", 64, "CLOSE_STOP_LOSS", ""),
        ("shock", 64, "CLOSE_VOL_SHOCK", ""),
        ("breach", 64, "CLOSE_SHORT_BREACH", "exit:\n  stop_loss_multiple_of_credit: 6\n"),
        ("flat", 160, "CLOSE_TIME", ""),
    ],
)
def test_each_exit_rule_reaches_its_close(
    tmp_path: Path, path: str, hours: float, rule: str, extra: str
) -> None:
    ws = scripted_workspace(tmp_path, path, extra)
    entry = enter(ws)
    held = monitor(ws, 16)
    assert held["status"] == "held"
    out = monitor(ws, hours)
    assert out["status"] == "closed", out
    position = out["positions"][0]
    assert position["action"] == rule
    assert position["order"]["filled"] == entry["proposal"]["contracts"]
    rows = ws.query(
        "SELECT status, contracts, close_reason, realized_pnl_eth, r_multiple FROM positions"
    )
    status, left, reason, pnl, r = rows[0]
    assert (status, left, reason) == ("closed", 0, rule)
    assert r is not None
    assert (float(pnl) > 0) == (rule in ("CLOSE_PROFIT", "CLOSE_TIME"))
    labels = [row[0] for row in ws.broker_orders()]
    assert labels == [entry["proposal"]["label"], entry["proposal"]["label"] + "-x1"]
    assert ws.run("audit", "verify").returncode == 0
    assert "HOLD" in ws.audit_events()
    assert monitor(ws, hours + 12)["status"] == "no_positions"


def test_a_closed_trade_books_pnl_and_r_from_the_fills(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    entry = enter(ws)
    out = monitor(ws, 64)
    n = entry["proposal"]["contracts"]
    credit = float(entry["order"]["average_price"])
    debit = float(out["positions"][0]["order"]["average_price"])
    fees = sum(float(f[0]) for f in ws.query("SELECT fee FROM fills"))
    pnl, fees_booked, r, loss = ws.query(
        "SELECT realized_pnl_eth, fees_eth, r_multiple, sizing_loss_eur FROM positions"
    )[0]
    assert float(pnl) == pytest.approx(n * (credit - debit) - fees, abs=1e-12)
    assert float(fees_booked) == pytest.approx(fees, abs=1e-12)
    eur = float(ws.query("SELECT realized_pnl_eur FROM positions")[0][0])
    assert r == pytest.approx(eur / float(loss))


def test_an_operational_arming_still_lets_a_risk_exit_through(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    enter(ws)
    assert ws.run("kill-switch", "arm", "--reason", "holiday", now=at(30)).returncode == 0
    out = monitor(ws, 64)
    assert out["status"] == "closed"
    assert out["positions"][0]["action"] == "CLOSE_STOP_LOSS"


def test_an_integrity_arming_holds_the_exit_back_with_an_alert(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    enter(ws)
    assert ws.run("kill-switch", "arm", "--reason", "x", "--no-exits", now=at(30)).returncode == 0
    out = monitor(ws, 64)
    assert out["status"] == "exit_blocked"
    assert out["positions"][0]["reasons"] == ["kill_switch_armed"]
    assert ws.query("SELECT status FROM positions") == [("open",)]
    assert ("HIGH",) in ws.query("SELECT severity FROM alerts WHERE key LIKE 'exit_blocked%'")


def test_a_dry_run_reports_would_close_and_sends_nothing(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    enter(ws)
    before = ws.audit_events()
    code, out = ws.json("monitor-run", "--dry-run", now=at(64))
    assert (code, out["status"]) == (0, "would_close")
    assert ws.audit_events() == before
    assert len(ws.broker_orders()) == 1


def test_an_invalid_config_file_still_lets_monitor_manage_the_position(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    enter(ws)
    ws.config.write_text(
        ws.config.read_text(encoding="utf-8") + "entry:\n  dvol_min: -9\n", encoding="utf-8"
    )
    assert ws.run("entry-run", now=at(40)).returncode == 2
    out = monitor(ws, 64)
    assert out["status"] == "closed"
    assert ("HIGH", "config_choice") in ws.query("SELECT severity, key FROM alerts")


def test_nothing_is_sent_during_settlement_the_next_run_closes(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    enter(ws)
    out = monitor(ws, 65 + 40 / 60)  # Thursday 07:40 UTC, the stop has fired
    assert out["status"] == "exit_blocked"  # it does not wait for 08:15: it says so, ends
    assert out["finished_at"][:16] == out["started_at"][:16]  # on its (virtual) clock
    assert out["positions"][0]["reasons"] == ["settlement_window"]
    assert "EXIT_PLACED" not in ws.audit_events()
    assert len(ws.broker_orders()) == 1  # the entry's only
    out = monitor(ws, 66 + 20 / 60)  # 08:20, after the window
    assert out["status"] == "closed"
    placed = [
        json.loads(line)
        for line in (ws.data / "audit.log").read_bytes().splitlines()
        if b'"EXIT_PLACED"' in line
    ]
    assert placed[0]["ts"] == "2026-03-05T08:20:00.000000Z"


def test_a_spot_jump_beyond_the_limit_skips_the_cycle_with_exit_75(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "jump")
    enter(ws)
    assert monitor(ws, 40)["status"] == "held"  # records the snapshot the jump is measured from
    code, out = ws.json("monitor-run", now=at(41))  # 3000 -> 2100 within the hour
    assert code == 75
    assert "jumped" in out["message"]
    assert len(ws.broker_orders()) == 1  # nothing sent
    assert ws.query("SELECT status FROM positions") == [("open",)]


def test_a_combo_the_venue_will_not_open_leaves_the_exit_to_the_next_run(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    enter(ws)
    code, out = ws.json(
        "monitor-run", now=at(64), faults={"deribit.place_combo_order": {"error": 409}}
    )
    assert code == 0, out
    position = out["positions"][0]
    assert (position["status"], position["reasons"]) == ("close_unfilled", ["combo_unavailable"])
    assert ws.query("SELECT status FROM positions") == [("open",)]
    assert ("HIGH",) in ws.query("SELECT severity FROM alerts WHERE key LIKE 'exit_unfilled%'")
    assert [row[1] for row in ws.broker_orders()] == ["filled"]  # the entry only
    out = monitor(ws, 76)
    assert out["status"] == "closed"
    assert ws.query("SELECT status FROM positions") == [("closed",)]


def test_dvol_is_the_last_minutes_point_and_two_hours_back_only_when_minutes_are_missing(
    tmp_path: Path,
) -> None:
    """The venue answers the last ten minutes with no point: the monitor looks two hours
    back (and decides); with no point there either, the run fails naming the gap."""
    ws = scripted_workspace(tmp_path, "flat")
    enter(ws)
    gap_once: dict[str, Any] = {"deribit.dvol": {"override": {"data": []}, "times": 1}}
    code, out = ws.json("monitor-run", now=at(4), faults=gap_once)
    assert (code, out["status"]) == (0, "held"), out
    assert [p["action"] for p in out["positions"]] == ["HOLD"]
    gap_always: dict[str, Any] = {"deribit.dvol": {"override": {"data": []}}}
    code, out = ws.json("monitor-run", now=at(16), faults=gap_always)
    assert code != 0
    assert "no DVOL point in the last two hours" in json.dumps(out)
