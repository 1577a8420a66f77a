"""A hostile operator at the command line: every bad input gets its exit code and one line.

The corpus runs the real ``bite`` (a subprocess) on bad config files, environment,
command lines and data dirs, and checks the documented exit code, the words of
the one line on stderr, that no traceback reaches the terminal, and that with
``--json`` stdout is one JSON object with ``exit_code`` and ``error``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.cli_support import ROOT, bite

Setup = Callable[[Path], None]


def _nothing(root: Path) -> None:
    return


def _local(text: bytes) -> Setup:
    def setup(root: Path) -> None:
        (root / "strategy.local.yaml").write_bytes(text)

    return setup


def _file_as_data_dir(root: Path) -> None:
    (root / "data").write_text("not a directory", encoding="utf-8")


def _empty_database(root: Path) -> None:
    (root / "data").mkdir()
    (root / "data" / "state.sqlite").write_bytes(b"")


def _foreign_database(root: Path) -> None:
    (root / "data").mkdir()
    conn = sqlite3.connect(root / "data" / "state.sqlite")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()


def _secret_file(content: bytes) -> Setup:
    def setup(root: Path) -> None:
        path = root / "token"
        path.write_bytes(content)
        path.chmod(0o600)

    return setup


def _fifo_secret(root: Path) -> None:
    os.mkfifo(root / "token", 0o600)


@dataclass(frozen=True)
class Case:
    """One hostile input: what is done, what must come back."""

    name: str
    args: tuple[str, ...]
    code: int
    words: str
    setup: Setup = _nothing
    env: dict[str, str] = field(default_factory=dict)


CASES = [
    # config values and files
    Case("inf in the config", ("monitor-run",), 2, "finite", _local(b"entry:\n  dvol_max: .inf")),
    Case("nan in config", ("entry-run",), 2, "finite", _local(b"exit:\n  stop_loss_mult: .nan")),
    Case("config not UTF-8", ("health-run",), 2, "not UTF-8", _local(b"entry:\n  dvol_max: \xff")),
    Case("bool for a count", ("config", "validate"), 2, "true/false",
         _local(b"sizing:\n  max_contracts: true\n")),
    Case("config is a directory", ("config", "show"), 2, "not a regular file",
         lambda root: (root / "strategy.local.yaml").mkdir()),
    Case("config list on top", ("entry-run", "--dry-run"), 2, "mapping", _local(b"- a\n")),
    # environment
    Case("empty data dir variable", ("status",), 2, "CERBERO_BITE_DATA_DIR is set but empty",
         env={"CERBERO_BITE_DATA_DIR": ""}),
    Case("empty config variable", ("config", "show"), 2, "CERBERO_BITE_CONFIG is set but empty",
         env={"CERBERO_BITE_CONFIG": ""}),
    Case("NOW in year 9999", ("entry-run",), 2, "outside",
         env={"CERBERO_BITE_NOW": "9999-12-31T23:00:00Z"}),
    Case("NOW in year 1", ("monitor-run",), 2, "CERBERO_BITE_NOW",
         env={"CERBERO_BITE_NOW": "0001-01-01T00:00:00Z"}),
    Case("NOW not a time", ("entry-run",), 2, "not an ISO-8601 time",
         env={"CERBERO_BITE_NOW": "next monday"}),
    Case("faults not JSON", ("entry-run",), 2, "not JSON",
         env={"CERBERO_BITE_PAPER_FAULTS": "{oops"}),
    Case("crash point unknown", ("entry-run",), 2, "not one of",
         env={"CERBERO_BITE_CRASH_AT": "nowhere"}),
    Case("secret file not UTF-8", ("ping",), 2, "not UTF-8",
         _secret_file(b"\xff\xfe\x00"), {"CERBERO_BITE_MCP_DERIBIT_TOKEN_FILE": "{root}/token"}),
    Case("secret file is a FIFO", ("ping",), 2, "not a regular file",
         _fifo_secret, {"CERBERO_BITE_MCP_DERIBIT_TOKEN_FILE": "{root}/token"}),
    Case("secret file missing", ("ping",), 2, "cannot read",
         env={"CERBERO_BITE_MCP_DERIBIT_TOKEN_FILE": "{root}/missing"}),
    # the command line
    Case("log level garbage", ("entry-run", "--dry-run", "--log-level", "GARBAGE"), 2,
         "--log-level"),
    Case("lock timeout nan", ("health-run", "--lock-timeout", "nan"), 2, "--lock-timeout"),
    Case("lock timeout negative", ("monitor-run", "--lock-timeout", "-1"), 2, "--lock-timeout"),
    Case("backtest date", ("backtest", "--from", "2022-13-01", "--to", "2023-01-01"), 2,
         "not a date"),
    Case("backtest equity nan", ("backtest", "--from", "2022-01-01", "--to", "2022-02-01",
                                 "--starting-equity-eth", "nan"), 2, "not a positive number"),
    Case("unknown command", ("entryrun",), 2, "No such command"),
    Case("unknown option", ("status", "--colour"), 2, "No such option"),
    Case("witness garbage", ("audit", "verify", "--witness", "12:zz"), 2, "SEQ:HASH"),
    # the data dir and its database
    Case("data dir is a file", ("health-run",), 2, "not a directory", _file_as_data_dir),
    Case("data dir is a file (view)", ("status",), 2, "not a directory", _file_as_data_dir),
    Case("0-byte database", ("kill-switch", "status"), 4, "0 bytes", _empty_database),
    Case("foreign database", ("monitor-run",), 4, "not a Cerbero Bite database",
         _foreign_database),
    Case("restore the live file", ("backup", "restore", "data/state.sqlite"), 2,
         "is the live database", lambda root: _run(root, "health-run")),
]  # fmt: skip


def _run(root: Path, *args: str) -> None:
    done = bite(*args, "--data-dir", str(root / "data"), cwd=root)
    assert done.returncode == 0, done.stderr


def _prepare(root: Path, case: Case) -> dict[str, str]:
    (root / "strategy.yaml").write_bytes((ROOT / "strategy.yaml").read_bytes())
    case.setup(root)
    return {k: v.replace("{root}", str(root)) for k, v in case.env.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_bad_input_gets_its_exit_code_and_one_clear_line(tmp_path: Path, case: Case) -> None:
    env = _prepare(tmp_path, case)
    done = bite(*case.args, env=env, cwd=tmp_path, timeout=30)
    assert done.returncode == case.code, (done.returncode, done.stderr)
    assert case.words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_with_json_a_failure_is_one_json_object(tmp_path: Path, case: Case) -> None:
    env = _prepare(tmp_path, case)
    done = bite(*case.args, "--json", env=env, cwd=tmp_path, timeout=30)
    assert done.returncode == case.code, (done.returncode, done.stderr)
    answer = json.loads(done.stdout)
    assert answer["exit_code"] == case.code
    assert answer.get("error") or answer.get("message")


@pytest.mark.parametrize(
    "local",
    [b"entry:\n  min_vol_premium: .inf\n", b"entry:\n  dvol_max: \xff\n", b"sizing: [1]\n"],
    ids=["inf", "not UTF-8", "a list for a section"],
)
def test_monitor_and_health_keep_running_on_the_approved_config(
    tmp_path: Path, local: bytes
) -> None:
    """A bad value never stops the bot: open positions stay managed, with a HIGH alert."""
    _prepare(tmp_path, Case("approved", (), 0, ""))
    _run(tmp_path, "health-run")  # paper approves the shipped file
    (tmp_path / "strategy.local.yaml").write_bytes(local)
    for job in ("monitor-run", "health-run"):  # the alert is sent once (de-duplicated)
        done = bite(job, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["config_approved"] is True
        if job == "monitor-run":
            assert "[HIGH] config" in done.stderr
            assert "last approved config" in done.stderr
