"""The dashboard's pages, driven by streamlit's own app-testing harness on real data dirs.

Each data dir is made by the real jobs on the scripted paper market (an open position
after entry-run and monitor-run, a closed history after the stop fires, an armed kill
switch, a tampered audit log, a damaged database); the pages must say what is there,
and never show a stack trace.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bite.context import open_state_readonly
from bite.state.db import DatabaseError
from streamlit.testing.v1 import AppTest

from tests.e2e.scripted import at, scripted_workspace
from tests.e2e.support import Workspace
from tests.integration.cli_support import ROOT, bite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _script(data_dir: str, config: str, crontab: str, now: str, page: str) -> None:
    """The page script as ``bite dashboard`` runs it, with its settings given."""
    from pathlib import Path

    import streamlit as st
    from bite.clock import parse_instant
    from bite.dashboard.app import main
    from bite.dashboard.views import Settings

    st.session_state.setdefault("page", page)
    main(Settings(Path(data_dir), Path(config), Path(crontab), now=parse_instant(now)))


def page(ws: Workspace, name: str, now: str) -> AppTest:
    """One page of the dashboard on the workspace's data dir, run once."""
    app = AppTest.from_function(
        _script,
        kwargs={
            "data_dir": str(ws.data),
            "config": str(ws.config),
            "crontab": str(ROOT / "crontab"),
            "now": now,
            "page": name,
        },
        default_timeout=60,
    )
    app.run()
    assert not app.exception, [e.value for e in app.exception]  # never a stack trace
    return app


def text(app: AppTest) -> str:
    """Everything the page wrote, as one text."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "info", "success", "warning", "header"):
        parts += [str(e.value) for e in getattr(app, kind)]
    parts += [f"{m.label}: {m.value}" for m in app.metric]
    parts += [df.value.to_csv() for df in [*app.dataframe, *app.table]]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def open_position(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict[str, Any]]:
    ws = scripted_workspace(tmp_path_factory.mktemp("open"), "crash")
    code, entry = ws.json("entry-run", now=at(0))
    assert code == 0, entry
    assert ws.run("monitor-run", now=at(4)).returncode == 0
    return ws, entry


@pytest.fixture(scope="module")
def closed_history(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = scripted_workspace(tmp_path_factory.mktemp("closed"), "crash")
    assert ws.run("entry-run", now=at(0)).returncode == 0
    assert ws.run("monitor-run", now=at(64)).returncode == 0  # the stop fires
    return ws


def test_an_empty_data_dir_is_a_message_on_every_page(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    for name in ("Now", "Position", "History", "Safety"):
        shown = text(page(ws, name, at(0)))
        assert "no state database yet" in shown, (name, shown)
    assert not (tmp_path / "data" / "state.sqlite").exists()  # looking created nothing


def test_now_shows_the_open_position_the_engine_and_the_schedule(
    open_position: tuple[Workspace, dict[str, Any]],
) -> None:
    ws, entry = open_position
    short = entry["proposal"]["short"]["instrument_name"]
    app = page(ws, "Now", at(4.5))
    shown = text(app)
    assert "Kill switch: disarmed" in shown
    assert "Environment: paper" in shown
    assert short in shown
    assert "HOLD 30 min ago" in shown  # the monitor's evaluation and its age
    assert "is the approved config" in shown
    assert "entry-run" in shown and "monitor-run" in shown  # last runs
    schedule = app.table[2].value
    nexts = dict(zip(schedule["job"], schedule["next"], strict=True))
    assert nexts["monitor-run"] == "2026-03-02 19:00 UTC"  # hourly, the next full hour
    assert nexts["entry-run"] == "2026-03-09 14:00 UTC"  # Mondays 14:00


def test_position_shows_the_spread_its_payoff_and_the_exit_rules(
    open_position: tuple[Workspace, dict[str, Any]],
) -> None:
    ws, entry = open_position
    legs = [entry["proposal"][side]["instrument_name"] for side in ("short", "long")]
    app = page(ws, "Position", at(4.5))
    shown = text(app)
    assert legs[0] in shown and legs[1] in shown
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Credit"].endswith(" ETH") and metrics["Debit (mid)"] != "- ETH"
    assert metrics["Spot to short strike"].endswith(" %")
    assert len(app.get("plotly_chart")) == 1  # the payoff diagram
    rules = app.dataframe[0].value
    assert list(rules["rule"]) == [
        "profit target",
        "stop",
        "short-strike breach",
        "vol shock",
        "time",
    ]


def test_history_shows_the_closed_trade_its_r_and_the_equity(closed_history: Workspace) -> None:
    app = page(closed_history, "History", at(65))
    trades = app.dataframe[0].value
    assert list(trades["exit_rule"]) == ["CLOSE_STOP_LOSS"]
    assert trades["r"][0] < 0
    # equity (recorded by entry-run), cumulative P&L, the R histogram, Kelly
    assert len(app.get("plotly_chart")) == 4


def test_an_armed_kill_switch_shows_on_now_and_safety(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    assert ws.run("health-run", now=at(0)).returncode == 0
    assert ws.run("kill-switch", "arm", "--reason", "going on holiday", now=at(0)).returncode == 0
    now = page(ws, "Now", at(1))
    assert {m.label: m.value for m in now.metric}["Kill switch"] == "ARMED (operational)"
    assert "going on holiday" in text(now)
    assert ws.run("backup-run", now=at(0.5)).returncode == 0
    safety = text(page(ws, "Safety", at(1)))
    assert "ARMED (operational)" in safety
    assert "state-20260302T143000Z.sqlite,0.5," in safety  # the backup and its age (hours)


def test_safety_verifies_the_chain_now_and_names_a_tampered_record(
    open_position: tuple[Workspace, dict[str, Any]], tmp_path: Path
) -> None:
    ws, _ = open_position
    good = text(page(ws, "Safety", at(4.5)))
    assert "Audit chain verified now" in good
    records = len((ws.data / "audit.log").read_bytes().splitlines())
    assert f"head seq {records} hash" in good
    # a copy of the data dir with its third record rewritten
    broken = Workspace(tmp_path)
    broken.data.mkdir()
    for name in ("state.sqlite", "audit.log"):
        (broken.data / name).write_bytes((ws.data / name).read_bytes())
    lines = (broken.data / "audit.log").read_bytes().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["payload"] = {"tampered": True}
    lines[2] = json.dumps(record).encode() + b"\n"
    (broken.data / "audit.log").write_bytes(b"".join(lines))
    shown = text(page(broken, "Safety", at(4.5)))
    assert "Audit chain BROKEN at seq 3" in shown


def test_a_damaged_or_locked_database_is_a_message_not_a_stack_trace(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    assert ws.run("health-run", now=at(0)).returncode == 0
    # locked: a writer holds the database in exclusive locking mode
    writer = sqlite3.connect(ws.data / "state.sqlite")
    writer.execute("PRAGMA locking_mode = EXCLUSIVE")
    writer.execute("BEGIN EXCLUSIVE")
    try:
        shown = text(page(ws, "Now", at(1)))
    finally:
        writer.rollback()
        writer.close()
    assert "database is locked" in shown
    (ws.data / "state.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x07" * 4096)
    for name in ("Now", "History", "Safety"):
        shown = text(page(ws, name, at(1)))
        assert "state.sqlite" in shown and "cannot be read" in shown, (name, shown)


def test_arming_from_the_dashboard_needs_a_reason_and_a_confirmation(tmp_path: Path) -> None:
    ws = scripted_workspace(tmp_path, "crash")
    assert ws.run("health-run", now=at(0)).returncode == 0
    app = page(ws, "Now", at(1))
    app.text_input[0].input("vol looks wrong")
    app.button[0].click().run()  # not confirmed: nothing happens
    assert "tick the confirmation" in text(app)
    assert ws.json("kill-switch", "status", now=at(1))[1]["armed"] is False
    app.checkbox[0].check()
    app.text_input[0].input("")
    app.button[0].click().run()  # confirmed without a reason: nothing happens
    assert ws.json("kill-switch", "status", now=at(1))[1]["armed"] is False
    app.checkbox[0].check()
    app.text_input[0].input("vol looks wrong")
    app.button[0].click().run()
    assert "Kill switch ARMED (operational) from the dashboard: vol looks wrong" in text(app)
    assert {m.label: m.value for m in app.metric}["Kill switch"] == "ARMED (operational)"
    status = ws.json("kill-switch", "status", now=at(1))[1]
    assert (status["armed"], status["kind"], status["source"]) == (True, "operational", "dashboard")
    assert status["reasons"] == ["vol looks wrong"]
    assert ws.audit_events()[-1] == "KILL_SWITCH_ARMED"
    assert "vol looks wrong" in (ws.data / "audit.log").read_text(encoding="utf-8")


def test_the_backtest_page_shows_a_backtest_folder(tmp_path: Path) -> None:
    out = tmp_path / "bt"
    done = bite("backtest", "--from", "2022-01-03", "--to", "2022-01-31", "--out", str(out))
    assert done.returncode == 0, done.stderr
    ws = Workspace(tmp_path)
    app = page(ws, "Backtest", at(0))
    app.text_input[0].input(str(tmp_path / "nowhere")).run()
    assert "not a folder" in text(app)
    app.text_input[0].input(str(out)).run()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["trades"] == str(summary["trades"])
    assert len(app.get("plotly_chart")) == 1


def test_the_dashboard_connection_is_read_only(
    open_position: tuple[Workspace, dict[str, Any]],
) -> None:
    ws, _ = open_position
    before = (ws.data / "state.sqlite").read_bytes()
    with open_state_readonly(ws.data) as state:
        assert state.kill_switch.status().armed is False
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            state.repo.set_state("kill_switch", {"armed": True}, datetime.now(UTC))
    assert (ws.data / "state.sqlite").read_bytes() == before
    with pytest.raises(DatabaseError, match="no state database yet"):
        open_state_readonly(ws.root / "elsewhere")


def test_a_non_loopback_host_needs_a_password(tmp_path: Path) -> None:
    done = bite("dashboard", "--host", "0.0.0.0", "--data-dir", str(tmp_path))  # noqa: S104
    assert done.returncode == 2
    assert "CERBERO_BITE_DASHBOARD_PASSWORD" in done.stderr + done.stdout
    assert "SSH tunnel" in done.stderr + done.stdout
    helped = bite("dashboard", "--help")
    assert "--port" in helped.stdout and "Loopback by default" in helped.stdout


def _locked_script(data_dir: str, config: str, password: str) -> None:
    from pathlib import Path

    from bite.dashboard.app import main
    from bite.dashboard.views import Settings

    main(Settings(Path(data_dir), Path(config), Path(config).parent / "crontab", password))


def test_a_password_keeps_every_page_behind_the_sign_in(
    open_position: tuple[Workspace, dict[str, Any]],
) -> None:
    ws, entry = open_position
    secret = "correct horse battery staple"
    app = AppTest.from_function(
        _locked_script,
        kwargs={"data_dir": str(ws.data), "config": str(ws.config), "password": secret},
        default_timeout=60,
    )
    app.run()
    assert len(app.text_input) == 1 and not app.sidebar.radio  # nothing but the sign-in
    app.text_input[0].input("guess").run()
    assert "Wrong password." in text(app)
    assert entry["proposal"]["short"]["instrument_name"] not in text(app)
    app.text_input[0].input(secret).run()
    assert not app.exception
    assert entry["proposal"]["short"]["instrument_name"] in text(app)
    assert secret not in text(app)


def test_the_settings_never_show_the_password_or_the_secrets() -> None:
    from bite.dashboard.views import Settings

    shown = repr(
        Settings(Path("d"), Path("c"), Path("t"), "pw-SECRET-1", secrets=("tok-SECRET-2",))
    )
    assert "SECRET" not in shown and "d" in shown
