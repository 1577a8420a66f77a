"""status, positions and orders after a real lifecycle."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.scripted import at, scripted_workspace


def test_status_positions_and_orders_describe_the_book(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    entry = ws.json("entry-run", now=at(0))[1]
    assert ws.run("health-run", now=at(1)).returncode == 0
    code, status = ws.json("status", now=at(2))
    assert code == 0
    assert status["engine"]["environment"] == "paper"
    assert status["engine"]["heartbeat_age_minutes"] == 60.0
    assert [p["id"] for p in status["positions"]] == [entry["proposal"]["proposal_id"]]
    assert status["positions"][0]["delta"] > 0  # a bull put spread is long delta
    assert {r["job"] for r in status["runs"]} == {"entry-run", "health-run"}
    assert status["kelly"]["risk_fraction"] > 0
    live = ws.json("status", "--live", now=at(2))[1]["live"]
    assert live["positions"][0]["id"] == entry["proposal"]["proposal_id"]
    assert float(live["positions"][0]["debit_mid"]) > 0
    assert float(live["collateral_delta_eth"]) > 0
    text = ws.run("status", now=at(2)).stdout
    assert "Open positions" in text and "disarmed" in text
    assert ws.run("monitor-run", now=at(64)).returncode == 0
    assert ws.json("positions")[1]["positions"] == []
    closed = ws.json("positions", "--all")[1]["positions"]
    assert closed[0]["close_reason"] == "CLOSE_STOP_LOSS"
    orders = ws.json("orders")[1]["orders"]
    assert [o["kind"] for o in orders] == ["entry", "exit"]
    assert all(o["state"] == "filled" for o in orders)
