"""Crash recovery: the job killed at each named point; the next runs settle everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.scripted import at, scripted_workspace
from tests.e2e.support import Workspace

CRASH = "CERBERO_BITE_CRASH_AT"


def broker_and_sqlite_agree(ws: Workspace) -> None:
    held = {
        name: float(size)
        for name, size in ws.query("SELECT instrument_name, size FROM positions", "paper.sqlite")
    }
    ours: dict[str, float] = {}
    for short, long, n in ws.query(
        "SELECT short_instrument, long_instrument, contracts "
        "FROM positions WHERE status IN ('open', 'closing')"
    ):
        ours[short] = ours.get(short, 0) - n
        ours[long] = ours.get(long, 0) + n
    assert {k: v for k, v in ours.items() if v} == held


def settled(ws: Workspace) -> None:
    assert ws.query(
        "SELECT count(*) FROM positions WHERE status IN ('proposed', 'awaiting_fill', 'closing')"
    ) == [(0,)]
    labels = [row[0] for row in ws.broker_orders()]
    assert len(labels) == len(set(labels))  # at most one order per label
    assert [row for row in ws.broker_orders() if row[1] == "open"] == []
    broker_and_sqlite_agree(ws)
    assert ws.run("audit", "verify", now=at(80)).returncode == 0


@pytest.mark.parametrize(
    "point", ["after_proposed_commit", "after_order_sent", "after_fill_before_commit"]
)
def test_an_entry_killed_at_each_point_is_settled_by_the_next_run(
    tmp_path: Path, point: str
) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    killed = ws.run("entry-run", now=at(0), env={CRASH: point})
    assert killed.returncode == 137
    code, out = ws.json("recover", now=at(1))
    assert code == 0, out
    assert out["status"] == "recovered"
    settled(ws)
    # killed before sending: nothing at the broker; right after sending: the first price
    # (the mid) is still resting, so recovery cancels it unfilled; after the fill: adopted
    expected = {
        "after_proposed_commit": ("cancelled", 0),
        "after_order_sent": ("cancelled", 0),
        "after_fill_before_commit": ("open", 2),
    }[point]
    assert ws.query("SELECT status FROM positions") == [(expected[0],)]
    assert ws.query("SELECT count(*) FROM fills") == [(expected[1],)]
    if point == "after_order_sent":
        assert [row[1] for row in ws.broker_orders()] == ["cancelled"]
    again = ws.json("recover", now=at(2))[1]
    assert again["status"] == "nothing_to_do"


def test_an_exit_killed_after_sending_is_settled_and_booked(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    assert ws.json("entry-run", now=at(0))[1]["status"] == "entered"
    killed = ws.run("monitor-run", now=at(64), env={CRASH: "after_exit_sent"})
    assert killed.returncode == 137
    assert ws.query("SELECT status FROM positions") == [("closing",)]
    code, out = ws.json("monitor-run", now=at(65))
    assert code == 0, out
    assert out["recovery"]["actions"]
    settled(ws)
    status, reason = ws.query("SELECT status, close_reason FROM positions")[0]
    assert (status, reason) == ("closed", "CLOSE_STOP_LOSS")
    assert ws.json("recover", now=at(66))[1]["status"] == "nothing_to_do"


def test_a_position_the_bot_does_not_know_arms_the_switch(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    faults = {"broker.unknown_position": {"instrument_name": "ETH-13MAR26-2500-P", "size": -3}}
    code, out = ws.json("recover", now=at(0), faults=faults)
    assert code == 0
    assert out["recovery"]["inconsistencies"]
    status = ws.json("kill-switch", "status")[1]
    assert (status["armed"], status["kind"]) == (True, "integrity")
