"""A broker fault while an order of the run's own works: never "nothing sent", never left working.

Faults are injected on the paper venue's side of the wire, through the real
client code: the run cancels and reconciles before it exits, or, when the
broker keeps failing, arms the kill switch and says what the broker holds; the
next run's recovery settles it.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.support import Workspace

LATER = "2026-01-05T15:00:00Z"


def test_an_edit_whose_answer_is_lost_is_cancelled_and_reconciled_before_exit(
    tmp_path: Path,
) -> None:
    ws = Workspace(tmp_path)
    code, report = ws.json("entry-run", faults={"deribit.edit_order": {"lose_response": True}})
    assert code == 75
    assert "nothing sent" not in report["message"]
    assert "cancelled and reconciled" in report["message"]
    assert [state for _, state, _ in ws.broker_orders()] == ["cancelled"]  # nothing left working
    assert ws.query("SELECT status FROM positions") == [("cancelled",)]
    assert ws.query("SELECT state FROM orders") == [("cancelled",)]


def test_fills_that_cannot_be_read_arm_the_switch_and_name_what_the_broker_holds(
    tmp_path: Path,
) -> None:
    ws = Workspace(tmp_path)
    code, report = ws.json("entry-run", faults={"deribit.trades_by_order": {"malformed": True}})
    assert code == 2  # an answer out of contract: a person looks, a retry cannot help
    label, state, filled = ws.broker_orders()[0]
    assert (state, filled) == ("filled", 4)
    assert label in report["message"]
    assert "4 of 4 filled" in report["message"]
    assert "nothing sent" not in report["message"]
    assert report["reasons"] == ["protocol_mismatch"]
    assert ws.query("SELECT state, filled_amount FROM orders") == [("filled", 4)]
    code, switch = ws.json("kill-switch", "status")
    assert switch["armed"] and "orders_unsettled" in switch["reasons"]
    # the broker answers again: the next run's recovery books the position from the fills
    code, monitor = ws.json("monitor-run", now=LATER)
    assert (code, monitor["status"]) == (0, "held")
    assert ws.query("SELECT status, contracts FROM positions") == [("open", 4)]
    assert len(ws.broker_orders()) == 1  # nothing was ever sent twice


def test_a_broker_gone_mid_ladder_is_cancelled_and_said(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, report = ws.json("entry-run", faults={"deribit.orders_by_label": {"error": 503}})
    assert code == 75
    assert "nothing sent" not in report["message"]
    orders = ws.broker_orders()
    assert len(orders) == 1
    assert orders[0][1] != "open"  # cancelled at the broker before the run exited
