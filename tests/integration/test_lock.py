"""The job lock with real processes: the second waits then exits 3; kill -9 frees it."""

from __future__ import annotations

import time
from pathlib import Path

from bite.safety.lock import JobLock, is_locked

from tests.integration.cli_support import ROOT, bite
from tests.process_support import held_lock


def test_a_second_job_exits_3_and_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with held_lock(data):
        assert is_locked(data)
        started = time.monotonic()
        second = bite(
            "backup-run",
            "--data-dir",
            str(data),
            "--lock-timeout",
            "0.5",
            "--config",
            str(ROOT / "strategy.yaml"),
        )
        assert second.returncode == 3
        assert time.monotonic() - started >= 0.5
        assert "job lock held by holder" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        assert not (data / "backups").exists()
    assert not is_locked(data)
    third = bite(
        "backup-run",
        "--data-dir",
        str(data),
        "--lock-timeout",
        "1",
        "--config",
        str(ROOT / "strategy.yaml"),
    )
    assert third.returncode == 0, third.stderr


def test_operator_commands_do_not_take_the_job_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with held_lock(data):
        armed = bite("kill-switch", "arm", "--reason", "during a job", "--data-dir", str(data))
        assert armed.returncode == 0, armed.stderr
        status = bite("kill-switch", "status", "--data-dir", str(data))
        assert status.stdout.startswith("ARMED (operational)")


def test_the_lock_is_reentrant_free_after_release(tmp_path: Path) -> None:
    with JobLock(tmp_path, 0, "a"):
        assert is_locked(tmp_path)
    with JobLock(tmp_path, 0, "b"):
        pass
    assert not is_locked(tmp_path)
