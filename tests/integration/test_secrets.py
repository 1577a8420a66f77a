"""Secrets (risk-controls.md 6): file permissions, and a planted token that must appear nowhere."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from bite.config.secrets import known_secret_values, read_secret
from bite.errors import ConfigError
from bite.log import RedactingFilter, redact_text

from tests.integration.cli_support import bite

TOKEN = "123456789:PLANTED-secret-TOKEN-zz9"
NAME = "CERBERO_BITE_TELEGRAM_BOT_TOKEN"


def secret_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def test_a_secret_comes_from_the_variable_or_its_file(tmp_path: Path) -> None:
    assert read_secret(NAME, {NAME: TOKEN}) == TOKEN
    path = secret_file(tmp_path, 0o600)
    assert read_secret(NAME, {f"{NAME}_FILE": str(path)}) == TOKEN
    assert read_secret(NAME, {}) is None


@pytest.mark.parametrize(
    ("mode", "problem"),
    [(0o620, "writable"), (0o602, "writable"), (0o640, "readable"), (0o604, "readable")],
)
def test_a_secret_file_open_to_others_is_refused(tmp_path: Path, mode: int, problem: str) -> None:
    path = secret_file(tmp_path, mode)
    with pytest.raises(ConfigError, match=problem) as caught:
        read_secret(NAME, {f"{NAME}_FILE": str(path)})
    assert TOKEN not in str(caught.value)
    assert f"{NAME}_FILE" in str(caught.value)


def test_a_readable_file_under_the_credentials_directory_is_accepted(tmp_path: Path) -> None:
    path = secret_file(tmp_path, 0o640)
    env = {f"{NAME}_FILE": str(path), "CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert read_secret(NAME, env) == TOKEN


def test_the_log_filter_removes_secrets_from_messages_and_tracebacks() -> None:
    record = logging.LogRecord(
        "bite", logging.ERROR, __file__, 1, "sending with %s", (TOKEN,), None
    )
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactingFilter((TOKEN,)).filter(record)
    assert TOKEN not in record.getMessage()
    assert record.exc_text is not None
    assert TOKEN not in record.exc_text
    assert "PLANTED" not in redact_text(f"Authorization: Bearer {TOKEN}", ())
    assert "PLANTED" not in redact_text(f"https://u:{TOKEN}@host/x", ())


def test_a_planted_token_appears_in_no_output_log_audit_or_backup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "strategy.yaml"
    config.write_text("paper:\n  serve_token: " + TOKEN + "\n", encoding="utf-8")
    env = {NAME: TOKEN, "CERBERO_BITE_MCP_DERIBIT_TOKEN": TOKEN + "-mcp"}
    runs = [
        bite("config", "show", "--config", str(config), env=env),
        bite("config", "show", "--json", "--config", str(config), env=env),
        bite(
            "config", "approve", "--yes", "--config", str(config), "--data-dir", str(data), env=env
        ),
        bite("config", "diff", "--config", str(config), "--data-dir", str(data), env=env),
        bite("kill-switch", "arm", "--reason", "test", "--data-dir", str(data), env=env),
        bite("kill-switch", "arm", "--reason", TOKEN, "--data-dir", str(data), env=env),
        bite("backup-run", "--data-dir", str(data), "--config", str(config), env=env),
        bite("audit", "tail", "--data-dir", str(data), env=env),
        bite("audit", "verify", "--data-dir", str(data), env=env),
        bite("config", "validate", "--config", str(tmp_path / "missing.yaml"), env=env),
    ]
    for run in runs:
        assert TOKEN not in run.stdout
        assert TOKEN not in run.stderr
    for path in data.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert known_secret_values(env) == (TOKEN + "-mcp", TOKEN)


def test_credentials_in_a_url_are_masked_by_diff_approve_and_show(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "strategy.yaml"
    password = "PLANTED-url-password-77"
    config.write_text(
        f"services:\n  macro:\n    url: https://bot:{password}@macro.example.invalid/macro\n",
        encoding="utf-8",
    )
    where = ("--config", str(config), "--data-dir", str(data))
    runs = [
        bite("config", "diff", *where),
        bite("config", "diff", *where, "--json"),
        bite("config", "approve", "--yes", *where),
        bite("config", "show", *where),
        bite("audit", "tail", *where, "--json"),
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert password not in run.stdout + run.stderr
    assert "https://***@macro.example.invalid/macro" in runs[0].stdout
    for path in data.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
