"""Before anything private: the platform's lock and the key's scope (paper, faults injected)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.e2e.support import ENTRY_MONDAY, Workspace

LOCKED = {"deribit.environment": {"override": {"locked": True}}}
WIDE = {"deribit.key_scope": {"override": {"scope": "trade:read_write wallet:read_write"}}}


def test_a_locked_platform_sends_nothing_and_exits_75(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("entry-run", faults=LOCKED)
    assert code == 75
    assert out["reasons"] == ["venue_locked"]
    assert "locked" in out["message"] and "nothing sent" in out["message"]
    assert ws.broker_orders() == []


def test_a_key_that_can_move_funds_is_refused_naming_its_scope(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, out = ws.json("entry-run", faults=WIDE)
    assert code == 2
    assert "wallet:read_write" in out["message"]
    assert ws.broker_orders() == []


def test_an_operator_may_allow_a_wide_key(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    (tmp_path / "strategy.local.yaml").write_text(
        "execution:\n  retry_waits_s: [0, 0]\n  allow_wide_key_scope: true\n", encoding="utf-8"
    )
    code, out = ws.json("entry-run", faults=WIDE, now=ENTRY_MONDAY)
    assert code == 0, out
    assert out["status"] == "entered"


def test_the_brokers_combo_tick_replaces_the_configured_one(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    coarse = {"deribit.combo_tick": {"override": {"tick_size": 0.001}}}
    code, out = ws.json("entry-run", "--dry-run", faults=coarse)
    assert code == 0, out
    ladder = [Decimal(p) for p in out["proposal"]["ladder"]]
    assert ladder and all(p % Decimal("0.001") == 0 for p in ladder)
    code, fine = ws.json("entry-run", "--dry-run")  # the configured 0.0001
    assert any(Decimal(p) % Decimal("0.001") for p in fine["proposal"]["ladder"])
