"""A whole lifecycle on the synthetic market, and the races around an order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.support import Workspace


def test_entry_monitors_every_12h_and_a_close_with_pnl_r_and_a_valid_chain(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    code, entry = ws.json("entry-run", now="2026-01-05T14:00:00Z")
    assert (code, entry["status"]) == (0, "entered")
    statuses = []
    t = datetime(2026, 1, 6, 6, tzinfo=UTC)
    while t <= datetime(2026, 1, 12, 18, tzinfo=UTC):
        code, out = ws.json("monitor-run", now=t.strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert code == 0, out
        statuses.append(out["status"])
        if out["status"] == "closed":
            break
        t += timedelta(hours=12)
    assert statuses[-1] == "closed"
    assert set(statuses[:-1]) == {"held"}
    status, pnl_eur, r = ws.query("SELECT status, realized_pnl_eur, r_multiple FROM positions")[0]
    assert status == "closed"
    assert r == pytest.approx(
        float(pnl_eur) / float(ws.query("SELECT sizing_loss_eur FROM positions")[0][0]), rel=1e-9
    )
    assert ws.run("audit", "verify").returncode == 0
    events = ws.audit_events()
    assert events.count("HOLD") == len(statuses) - 1
    assert "EXIT_FILLED" in events


def test_a_fill_landing_between_the_last_poll_and_the_cancel_is_booked(tmp_path: Path) -> None:
    # every poll and every edit's answer shows the order still open and unfilled; only the
    # cancel's answer tells the truth
    ws = Workspace(tmp_path)
    stale = {"override": {"order_state": "open", "filled_amount": 0}}
    faults = {"deribit.orders_by_label": stale, "deribit.edit_order": stale}
    code, out = ws.json("entry-run", faults=faults)
    assert code == 0, out
    assert out["status"] == "entered"
    assert out["order"]["filled"] == out["proposal"]["contracts"]
    assert ws.query("SELECT status FROM positions") == [("open",)]
    assert len(ws.query("SELECT trade_id FROM fills")) == 2
    assert "ORDER_CANCELLED" in ws.audit_events()


TOKEN = "987654:PLANTED-telegram-TOKEN"


def test_a_planted_token_appears_in_no_output_log_audit_or_backup(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    env = {
        "CERBERO_BITE_TELEGRAM_BOT_TOKEN": TOKEN,
        "CERBERO_BITE_TELEGRAM_CHAT_ID": "1",
        "CERBERO_BITE_MCP_DERIBIT_TOKEN": TOKEN + "-mcp",
    }
    runs = [
        ws.run("entry-run", env=env),
        ws.run("monitor-run", now="2026-01-06T06:00:00Z", env=env),
        ws.run("health-run", now="2026-01-06T06:05:00Z", env=env),
        ws.run("backup-run", now="2026-01-06T06:17:00Z", env=env),
        ws.run("status", env=env),
        ws.run("ping", env=env),
        ws.run("entry-run", "--json", env=env, faults={"deribit.index_price": {"error": 401}}),
    ]
    for run in runs:
        assert TOKEN not in run.stdout + run.stderr
    for path in ws.data.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
