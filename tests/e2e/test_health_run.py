"""health-run end to end: strikes, degradation, heartbeat, missed jobs, stale orders, metrics."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.scripted import at, scripted_workspace
from tests.e2e.support import Workspace


def test_a_healthy_run_writes_the_heartbeat(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("health-run")
    assert (code, out["status"], out["strikes"]) == (0, "ok", 0)
    assert (ws.data / "heartbeat").read_text(encoding="utf-8").endswith(" ok\n")


def test_three_broker_failures_arm_the_switch_while_sentiment_only_degrades(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("health-run", faults={"sentiment.*": {"error": 503}})
    assert (code, out["status"], out["reasons"]) == (0, "degraded", ["down:sentiment"])
    assert not ws.json("kill-switch", "status")[1]["armed"]
    for k in range(1, 4):
        code, out = ws.json(
            "health-run", faults={"deribit.health": {"error": 503}}, now=f"2026-01-05T14:0{k}:00Z"
        )
        assert (out["status"], out["strikes"]) == ("failing", k)
    status = ws.json("kill-switch", "status")[1]
    assert (status["armed"], status["kind"], status["reasons"]) == (
        True,
        "operational",
        ["health_strikes"],
    )
    assert ws.json("health-run", now="2026-01-05T14:05:00Z")[1]["strikes"] == 0


def test_a_missed_monitor_run_is_reported(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.run("monitor-run", now="2026-01-05T06:00:00Z").returncode == 0
    _, out = ws.json("health-run", now="2026-01-06T06:00:00Z")
    assert (out["status"], out["overdue"]) == ("degraded", ["monitor-run"])
    assert ("MEDIUM", "missed:monitor-run") in ws.query("SELECT severity, key FROM alerts")


def test_a_stale_order_of_ours_is_cancelled(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    assert (
        ws.run("entry-run", now=at(0), env={"CERBERO_BITE_CRASH_AT": "after_order_sent"}).returncode
        == 137
    )
    _, out = ws.json("health-run", now=at(0.1))
    assert len(out["stale_orders"]) == 1
    assert [row[1] for row in ws.broker_orders()] == ["cancelled"]


def test_metrics_are_written_for_node_exporter(tmp_path: Path) -> None:
    metrics = tmp_path / "textfile" / "bite.prom"
    ws = Workspace(tmp_path, f"metrics:\n  textfile_path: {metrics}\n")
    assert ws.run("health-run").returncode == 0
    text = metrics.read_text(encoding="utf-8")
    assert "bite_health_status 0" in text
    assert 'bite_service_up{service="deribit"} 1' in text
    assert "bite_kill_switch_armed 0" in text


def test_a_service_back_up_sends_one_recovery_message(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.json("health-run", faults={"macro.*": {"error": 503}})[1]["status"] == "degraded"
    assert ws.json("health-run", now="2026-01-05T14:05:00Z")[1]["status"] == "ok"
    keys = [row[0] for row in ws.query("SELECT key FROM alerts ORDER BY id")]
    assert keys == ["service_down", "service_down:resolved"]
    assert ws.json("health-run", now="2026-01-05T14:10:00Z")[1]["status"] == "ok"
    assert len(ws.query("SELECT key FROM alerts")) == 2


def test_with_no_config_ever_approved_health_still_checks_and_sweeps_nothing(
    tmp_path: Path,
) -> None:
    # the watchdog runs on the file's config rather than none, and touches no order
    ws = Workspace(tmp_path, "paper:\n  auto_approve: false\n")
    code, report = ws.json("health-run")
    assert code == 0, report
    assert report["config_approved"] is False
    assert report["status"] in ("ok", "degraded")
    assert report["stale_orders"] == []
    calls = report["service_calls"]["by_tool"]
    assert "deribit.open_orders" not in calls  # no sweep without an approved config
    assert ws.query("SELECT count(*) FROM config_versions")[0][0] == 0
