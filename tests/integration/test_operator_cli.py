"""Operator commands through the real CLI: audit verify's exit 4, the switch, approval."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli_support import bite


def test_audit_verify_exits_4_naming_the_first_bad_seq(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    for i in range(3):
        assert bite("kill-switch", "arm", "--reason", f"r{i}", "--data-dir", data).returncode == 0
    log = tmp_path / "data" / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[1].replace(b'"r1"', b'"r9"') + lines[2])
    report = bite("audit", "verify", "--data-dir", data, "--json")
    assert report.returncode == 4
    out = json.loads(report.stdout)
    assert (out["chain_ok"], out["first_bad_seq"]) == (False, 2)
    text = bite("audit", "verify", "--data-dir", data)
    assert "BROKEN at seq 2" in text.stdout


def test_config_approve_refuses_without_a_terminal_or_yes(tmp_path: Path) -> None:
    config = tmp_path / "strategy.yaml"
    config.write_text("", encoding="utf-8")
    refused = bite(
        "config", "approve", "--config", str(config), "--data-dir", str(tmp_path / "data")
    )
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    done = bite(
        "config",
        "approve",
        "--yes",
        "--json",
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert json.loads(done.stdout)["approved"] is True
    again = bite(
        "config", "approve", "--yes", "--config", str(config), "--data-dir", str(tmp_path / "data")
    )
    assert "already approved" in again.stdout


def test_a_database_that_is_not_ours_exits_4(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "state.sqlite").write_bytes(b"not a database" * 200)
    result = bite("kill-switch", "status", "--data-dir", str(data))
    assert result.returncode == 4
    assert "not a readable SQLite database" in result.stderr


def test_now_is_refused_outside_paper(tmp_path: Path) -> None:
    config = tmp_path / "strategy.yaml"
    config.write_text("execution:\n  environment: testnet\n", encoding="utf-8")
    result = bite(
        "kill-switch",
        "arm",
        "--reason",
        "x",
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "data"),
        env={"CERBERO_BITE_NOW": "2026-03-02T14:00:00Z"},
    )
    assert result.returncode == 2
    assert "paper" in result.stderr
