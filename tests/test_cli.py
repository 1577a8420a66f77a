"""The command line: version, help, and the config commands with their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bite import __version__

from tests.integration.cli_support import bite

ROOT = Path(__file__).resolve().parents[1]


def test_version_prints_the_version() -> None:
    result = bite("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"bite {__version__}"


def test_help_lists_the_exit_codes_and_the_config_commands() -> None:
    result = bite("--help")
    assert result.returncode == 0
    assert "Exit codes" in result.stdout + result.stderr
    assert "config" in result.stdout + result.stderr


def test_the_installed_entry_point_runs_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bite", "--version"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"bite {__version__}"


def test_config_validate_accepts_the_shipped_file() -> None:
    result = bite("config", "validate", "--config", str(ROOT / "strategy.yaml"))
    assert result.returncode == 0
    assert "valid" in result.stdout + result.stderr


def test_config_validate_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "strategy.yaml"
    bad.write_text("strikes:\n  dte_min: 0\n", encoding="utf-8")
    result = bite("config", "validate", "--config", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stdout + result.stderr
    assert "strikes.dte_min" in result.stdout + result.stderr


def test_config_validate_reads_the_env_variable(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("entry:\n  dvol_min: 500\n", encoding="utf-8")
    result = bite("config", "validate", env={"CERBERO_BITE_CONFIG": str(bad)})
    assert result.returncode == 2
    assert "entry.dvol_min" in result.stdout + result.stderr


def test_config_validate_json_reports_the_hash() -> None:
    result = bite("config", "validate", "--json", "--config", str(ROOT / "strategy.yaml"))
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert len(data["hash"]) == 64


def test_config_hash_is_stable_across_comment_changes(tmp_path: Path) -> None:
    original = (ROOT / "strategy.yaml").read_text(encoding="utf-8")
    copy = tmp_path / "strategy.yaml"
    copy.write_text("# my copy\n" + original.replace("# the only", "# only"), encoding="utf-8")
    a = bite("config", "hash", "--config", str(ROOT / "strategy.yaml"))
    b = bite("config", "hash", "--config", str(copy))
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout


def test_config_show_never_prints_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "strategy.yaml"
    path.write_text("paper:\n  serve_token: planted-SECRET-token\n", encoding="utf-8")
    for args in (["config", "show"], ["config", "show", "--json"]):
        result = bite(*args, "--config", str(path))
        assert result.returncode == 0
        assert "planted-SECRET-token" not in result.stdout + result.stderr
        assert "***" in result.stdout + result.stderr
