"""The kill switch (risk-controls.md 1): idempotent, escalates only, audited; who may send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from bite.safety.kill_switch import KillSwitchState, permission

from tests.state_support import fresh_state

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def events(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (path / "audit.log").read_bytes().splitlines()]


def test_arming_is_idempotent_and_keeps_the_first_reason(tmp_path: Path) -> None:
    state = fresh_state(tmp_path)
    first = state.kill_switch.arm("health strikes", "operational", "health-run", T0)
    again = state.kill_switch.arm(
        "health strikes", "operational", "health-run", T0 + timedelta(minutes=5)
    )
    assert again == first
    later = state.kill_switch.arm("manual", "operational", "operator", T0 + timedelta(hours=1))
    assert later.reasons == ("health strikes", "manual")
    assert later.since == first.since
    assert later.source == "health-run"
    assert [e["event"] for e in events(tmp_path)] == ["KILL_SWITCH_ARMED"] * 2


def test_the_kind_only_escalates(tmp_path: Path) -> None:
    state = fresh_state(tmp_path)
    state.kill_switch.arm("audit_mismatch", "integrity", "boot", T0)
    after = state.kill_switch.arm("strikes", "operational", "health-run", T0)
    assert after.kind == "integrity"
    state2 = fresh_state(tmp_path / "b")
    state2.kill_switch.arm("strikes", "operational", "health-run", T0)
    assert state2.kill_switch.arm("guard", "integrity", "entry-run", T0).kind == "integrity"


def test_only_disarm_clears_it_and_it_is_audited(tmp_path: Path) -> None:
    state = fresh_state(tmp_path)
    state.kill_switch.arm("x", "integrity", "boot", T0)
    with pytest.raises(ValueError, match="reason"):
        state.kill_switch.disarm("  ", "operator", T0)
    assert state.kill_switch.status().armed
    state.kill_switch.disarm("looked at the audit log", "operator", T0)
    assert not state.kill_switch.status().armed
    last = events(tmp_path)[-1]
    assert last["event"] == "KILL_SWITCH_DISARMED"
    assert last["payload"]["was"]["kind"] == "integrity"  # type: ignore[index]


def test_the_switch_survives_a_new_process(tmp_path: Path) -> None:
    fresh_state(tmp_path).kill_switch.arm("x", "operational", "operator", T0)
    assert fresh_state(tmp_path).kill_switch.status().kind == "operational"


INTEGRITY = KillSwitchState(True, "integrity", ("x",))
OPERATIONAL = KillSwitchState(True, "operational", ("x",))
DISARMED = KillSwitchState(False)


@pytest.mark.parametrize(
    ("state", "order", "risk", "policy", "allowed"),
    [
        (DISARMED, "entry", False, "all", True),
        (DISARMED, "exit", False, "none", True),
        (INTEGRITY, "entry", False, "all", False),
        (INTEGRITY, "exit", True, "all", False),
        (INTEGRITY, "cancel", False, "none", True),
        (OPERATIONAL, "entry", False, "all", False),
        (OPERATIONAL, "exit", False, "all", True),
        (OPERATIONAL, "exit", False, "risk_only", False),
        (OPERATIONAL, "exit", True, "risk_only", True),
        (OPERATIONAL, "exit", True, "none", False),
        (OPERATIONAL, "cancel", False, "none", True),
        (DISARMED, "hedge", False, "none", True),
        (OPERATIONAL, "hedge", False, "none", True),  # a hedge reduces risk
        (INTEGRITY, "hedge", False, "all", False),  # never on untrusted inputs
    ],
)
def test_who_may_send(
    state: KillSwitchState,
    order: Literal["entry", "exit", "cancel", "hedge"],
    risk: bool,
    policy: str,
    allowed: bool,
) -> None:
    verdict = permission(
        state,
        order=order,
        risk_exit=risk,
        exits_when_operational=policy,
    )
    assert verdict.allowed is allowed
    assert verdict.reason == (None if allowed else "kill_switch_armed")


@pytest.mark.parametrize("damage", ["truncate", "half_cut", "byte_in_last", "deleted_anchor"])
def test_tail_damage_at_boot_arms_the_switch_in_the_new_chain(tmp_path: Path, damage: str) -> None:
    from bite.safety.kill_switch import audit_boot_check

    state = fresh_state(tmp_path)
    for i in range(5):
        state.audit.append("HOLD", {"i": i}, T0 + timedelta(minutes=i))
    data = state.audit.path.read_bytes()
    if damage == "truncate":
        state.audit.path.write_bytes(b"".join(data.splitlines(keepends=True)[:3]))
    elif damage == "half_cut":
        state.audit.path.write_bytes(data[:-50])
    elif damage == "byte_in_last":
        state.audit.path.write_bytes(data[:-100] + b"X" + data[-99:])
    else:
        state.repo.conn.execute("DELETE FROM system_state WHERE key = 'audit_anchor'")
    result = audit_boot_check(
        state.audit, state.kill_switch, T0 + timedelta(hours=1), source="monitor-run", dry_run=False
    )
    assert result.outcome == "mismatch"
    switch = state.kill_switch.status()
    assert (switch.armed, switch.kind, switch.reasons) == (True, "integrity", ("audit_mismatch",))
    assert [e["event"] for e in events(tmp_path)] == ["AUDIT_RESET", "KILL_SWITCH_ARMED"]
    assert state.audit.verify().ok


def test_a_dry_run_boot_check_arms_nothing(tmp_path: Path) -> None:
    from bite.safety.kill_switch import audit_boot_check

    state = fresh_state(tmp_path)
    state.audit.append("HOLD", {}, T0)
    state.audit.path.write_bytes(state.audit.path.read_bytes()[:-5])
    result = audit_boot_check(state.audit, state.kill_switch, T0, source="entry-run", dry_run=True)
    assert result.outcome == "mismatch"
    assert not state.kill_switch.status().armed
