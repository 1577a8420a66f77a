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


def test_status_check_says_whether_the_jobs_run_and_the_bot_trusts_itself(
    tmp_path: Path,
) -> None:
    """The container's health check: 5 without a fresh heartbeat, 4 when the kill switch
    is armed for integrity, 0 otherwise (an operational arming included)."""
    ws = scripted_workspace(tmp_path, "crash")
    missing = ws.run("status", "--check", now=at(0))
    assert (missing.returncode, missing.stdout) == (
        5,
        "bite status --check: no heartbeat: health-run has not run here\n",
    )
    assert ws.run("health-run", now=at(1)).returncode == 0
    fresh = ws.run("status", "--check", now=at(1.25))
    assert (fresh.returncode, fresh.stdout) == (
        0,
        "bite status --check: ok: heartbeat 15.0 minutes old\n",
    )
    code, stale = ws.json("status", "--check", now=at(2))
    assert (code, stale["exit_code"]) == (5, 5)
    assert stale["check"] == "heartbeat 60.0 minutes old (more than 20)"
    assert ws.run("status", "--check", "--max-age", "90", now=at(2)).returncode == 0
    assert ws.run("status", "--check", "--max-age", "nan", now=at(2)).returncode == 2
    assert ws.run("kill-switch", "arm", "--reason", "operator", now=at(1.25)).returncode == 0
    operational = ws.run("status", "--check", now=at(1.25))
    assert operational.returncode == 0
    assert "kill switch armed: operational" in operational.stdout
    arm = ws.run("kill-switch", "arm", "--reason", "tampering", "--no-exits", now=at(1.25))
    assert arm.returncode == 0
    integrity = ws.run("status", "--check", now=at(1.25))
    assert integrity.returncode == 4
    assert "armed for integrity: operator; tampering" in integrity.stdout


def test_status_shows_the_monitors_last_evaluation_and_its_age(tmp_path: Path) -> None:
    """monitor-run keeps its last evaluation of each position; bite status shows it,
    with its age, without asking the broker. A dry run keeps nothing."""
    ws = scripted_workspace(tmp_path, "crash")
    entry = ws.json("entry-run", now=at(0))[1]
    position = entry["proposal"]["proposal_id"]
    assert ws.json("status", now=at(1))[1]["positions"][0]["last_evaluation"] is None
    assert ws.run("monitor-run", "--full", "--dry-run", now=at(1)).returncode == 0
    assert ws.json("status", now=at(1))[1]["positions"][0]["last_evaluation"] is None
    code, monitor = ws.json("monitor-run", "--full", now=at(1))
    assert code == 0
    [held] = monitor["positions"]
    status = ws.json("status", now=at(1.5))[1]
    [row] = status["positions"]
    seen = row["last_evaluation"]
    assert (row["id"], seen["age_minutes"], seen["action"]) == (position, 30.0, held["action"])
    for name in ("spot", "debit_mid", "debit_touch", "credit", "short_delta", "hours_left"):
        assert seen[name] == held["numbers"][name], name
    assert seen["net_delta"] > 0  # a bull put spread is long delta
    text = ws.run("status", now=at(1.5)).stdout
    assert "Last evaluation by monitor-run" in text and "30.0" in text
