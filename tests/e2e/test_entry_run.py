"""entry-run end to end: the real CLI on the paper exchange with a virtual clock."""

from __future__ import annotations

from pathlib import Path

from bite.paper.chain import Chain
from bite.paper.market import ScriptedMarket

from tests.e2e.scripted import ENTRY, at, script
from tests.e2e.support import Workspace
from tests.process_support import held_lock


def test_a_dry_run_reports_would_enter_and_writes_nothing(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("entry-run", "--dry-run")
    assert code == 0
    assert (out["status"], out["dry_run"], out["config_approved"]) == ("would_enter", True, False)
    proposal = out["proposal"]
    assert proposal["label"] == f"bite-{proposal['proposal_id']}"
    assert proposal["short"]["direction"] == "sell"
    assert len(proposal["ladder"]) == 4
    assert ws.audit_events() == []
    assert ws.query("SELECT count(*) FROM positions") == [(0,)]
    assert ws.query("SELECT count(*) FROM config_versions") == [(0,)]
    assert ws.query("SELECT job, dry_run FROM job_runs") == [("entry-run", 1)]
    assert ws.broker_orders() == []


def test_a_live_entry_opens_a_position_from_its_fills(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("entry-run")
    assert code == 0, out
    assert out["status"] == "entered"
    assert out["config_approved"] is True
    label = out["proposal"]["label"]
    rows = ws.query("SELECT status, contracts, entry_credit_eth FROM positions")
    assert rows == [("open", out["proposal"]["contracts"], out["order"]["average_price"])]
    fills = ws.query("SELECT trade_id FROM fills")
    assert len(fills) == 2
    assert ws.broker_orders() == [(label, "filled", out["proposal"]["contracts"])]
    events = ws.audit_events()
    assert events[:3] == ["CONFIG_APPROVED", "ENGINE_START", "ENTRY_PROPOSED"]
    assert "ORDER_PLACED" in events and events.count("FILL") == 2
    assert events[-1] == "ENTRY_FILLED"
    assert ws.run("audit", "verify").returncode == 0
    code, again = ws.json("entry-run", now="2026-01-05T15:00:00Z")
    assert (code, again["status"], again["reasons"][:1]) == (0, "no_entry", ["max_positions"])


def test_an_environment_mismatch_arms_the_switch_before_any_private_call(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("entry-run", faults={"deribit.environment": {"environment": "mainnet"}})
    assert code == 4
    assert out["reasons"] == ["integrity"]
    assert ws.query("SELECT count(*) FROM positions") == [(0,)]
    assert ws.broker_orders() == []
    code, status = ws.json("kill-switch", "status")
    assert (status["armed"], status["kind"], status["reasons"]) == (
        True,
        "integrity",
        ["environment_mismatch"],
    )


def test_an_unapproved_config_refuses_the_entry_with_exit_0(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, "paper:\n  auto_approve: false\n")
    code, out = ws.json("entry-run")
    assert (code, out["status"], out["config_approved"]) == (0, "config_unapproved", False)
    assert ws.broker_orders() == []


def test_a_failing_broker_skips_the_cycle_with_exit_75(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    for fault in ({"error": 500}, {"timeout": True}):
        code, out = ws.json("entry-run", faults={"deribit.index_price": fault})
        assert (code, out["reasons"]) == (75, ["broker_unavailable"])
    assert ws.broker_orders() == []
    assert ws.query("SELECT count(*) FROM positions") == [(0,)]


def test_an_anomalous_quote_on_a_chosen_leg_sends_nothing_and_alerts(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("entry-run", faults={"deribit.ticker": {"override": {"mark_iv": 7}}})
    assert (code, out["status"], out["reasons"]) == (0, "no_entry", ["leg_anomaly"])
    assert ws.query("SELECT severity, key FROM alerts") == [("HIGH", "leg_anomaly")]
    assert ws.broker_orders() == []


def test_a_sentiment_outage_refuses_the_entry_but_is_no_failure(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("entry-run", faults={"sentiment.*": {"error": 503}})
    assert (code, out["status"]) == (0, "no_entry")
    assert "input_unavailable" in out["reasons"]


def test_an_integrity_arming_blocks_every_order(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.run("kill-switch", "arm", "--reason", "test", "--no-exits").returncode == 0
    code, out = ws.json("entry-run")
    assert (code, out["status"]) == (0, "no_entry")
    assert out["reasons"][0] == "kill_switch_armed"
    assert ws.broker_orders() == []


def test_a_lost_answer_is_found_by_label_and_never_sent_twice(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json(
        "entry-run", faults={"deribit.place_combo_order": {"lose_response": True, "times": 1}}
    )
    assert code == 0, out
    assert out["status"] == "entered"
    assert len(ws.broker_orders()) == 1


def test_a_rejected_order_cancels_the_entry_with_a_high_alert(tmp_path: Path) -> None:
    # the account summary overstates equity: sizing asks for more margin than the account has
    ws = Workspace(tmp_path, 'paper:\n  starting_equity_eth: "0.3"\n')
    code, out = ws.json(
        "entry-run",
        faults={
            "deribit.account_summary": {
                "override": {"equity": 10, "available_funds": 10, "initial_margin": 0}
            }
        },
    )
    assert code == 0, out
    assert out["status"] == "unfilled"
    assert out["reasons"] == ["rejected:not_enough_funds"]
    assert ws.query("SELECT status FROM positions") == [("cancelled",)]
    assert ("HIGH", "order_rejected") in ws.query("SELECT severity, key FROM alerts")
    assert [row[1] for row in ws.broker_orders()] == ["rejected"]


def test_a_second_job_waits_for_the_lock_then_exits_3(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with held_lock(ws.data):
        done = ws.run("entry-run", "--lock-timeout", "0.3")
    assert done.returncode == 3


def test_an_entry_cycles_service_calls_do_not_grow_with_the_chain(tmp_path: Path) -> None:
    counts, sizes = [], []
    for dvol in (55, 105):  # higher vol lists strikes further out: a bigger chain
        root = tmp_path / f"dvol{dvol}"
        root.mkdir()
        path = root / "m.yaml"
        path.write_text(
            script([(400, 3000, dvol)]).replace("dvol: 60.0", f"dvol: {dvol}"), encoding="utf-8"
        )
        ws = Workspace(root, f"paper:\n  market:\n    kind: scripted\n    script_file: {path}\n")
        code, out = ws.json("entry-run", "--dry-run", now=at(0))
        assert (code, out["status"]) == (0, "would_enter"), out
        counts.append(out["service_calls"]["total"])
        market = ScriptedMarket.from_file(path)
        sizes.append(len(Chain(market.state(ENTRY), 7).listings))
    assert sizes[1] > sizes[0] * 1.2
    assert counts[0] == counts[1] <= 20


def test_a_combo_the_venue_will_not_open_skips_the_entry(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("entry-run", faults={"deribit.place_combo_order": {"error": 409}})
    assert code == 0, out
    assert (out["status"], out["reasons"]) == ("no_entry", ["combo_unavailable"])
    assert ws.query("SELECT status FROM positions") == [("cancelled",)]
    assert ws.query("SELECT state, reject_reason, broker_order_id FROM orders") == [
        ("cancelled", "combo_unavailable", None)
    ]
    assert ws.broker_orders() == []  # and no leg was sent on its own
    assert ("MEDIUM", "combo_unavailable") in ws.query("SELECT severity, key FROM alerts")
    assert ws.run("audit", "verify").returncode == 0
