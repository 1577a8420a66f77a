"""Backups: the copy passes integrity_check, retention keeps the right files, restore works."""

from __future__ import annotations

import gzip
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bite.config.schema import BackupConfig
from bite.jobs.backup import to_keep
from freezegun import freeze_time

from tests.integration.cli_support import bite
from tests.process_support import held_lock
from tests.state_support import fresh_state


def config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "strategy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_backup_run_writes_a_checked_copy_and_the_audit_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    state = fresh_state(data)
    state.kill_switch.arm("marker", "operational", "test", datetime.now(UTC))
    state.close()
    done = bite("backup-run", "--data-dir", str(data), "--config", str(config(tmp_path)), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["job"], out["status"]) == ("backup-run", "ok")
    for key in ("reasons", "started_at", "finished_at", "dry_run", "config_approved"):
        assert key in out
    assert out["environment"] == "paper"
    copy = Path(out["file"])
    conn = sqlite3.connect(copy)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert (
        "marker"
        in conn.execute("SELECT value FROM system_state WHERE key='kill_switch'").fetchone()[0]
    )
    conn.close()
    audit_copy = copy.with_name(copy.name.replace("state-", "audit-").replace(".sqlite", ".log"))
    assert (
        audit_copy.read_bytes().splitlines()[0] == (data / "audit.log").read_bytes().splitlines()[0]
    )
    assert json.loads((data / "audit.log").read_bytes().splitlines()[-1])["event"] == "BACKUP_DONE"


def test_retention_keeps_the_hourly_window_and_one_a_day(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cfg_path = config(tmp_path, "backup:\n  keep_hourly: 3\n  keep_daily: 3\n")
    start = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    stamps = [start + timedelta(hours=h) for h in (0, 5, 23, 26, 30, 47, 48, 49, 50)]
    for stamp in stamps:
        with freeze_time(stamp):
            result = bite("backup-run", "--data-dir", str(data), "--config", str(cfg_path))
            assert result.returncode == 0, result.stdout + result.stderr
    kept = sorted(p.name for p in (data / "backups").glob("state-*.sqlite"))
    # the last 3 hours, plus the newest of 2026-03-02 (day 2) and of 2026-03-01 (day 1)
    assert kept == [
        "state-20260301T233000Z.sqlite",
        "state-20260302T233000Z.sqlite",
        "state-20260303T003000Z.sqlite",
        "state-20260303T013000Z.sqlite",
        "state-20260303T023000Z.sqlite",
    ]
    audits = sorted(p.name for p in (data / "backups").glob("audit-*.log"))
    assert len(audits) == len(kept)


def test_to_keep_is_the_union_of_hourly_and_daily() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    names = [f"state-{(now - timedelta(hours=h)):%Y%m%dT%H%M%SZ}.sqlite" for h in range(0, 300, 7)]
    keep = to_keep(names, now, BackupConfig(keep_hourly=2, keep_daily=4))
    assert names[0] in keep and names[1] in keep
    days = {n[6:14] for n in keep}
    assert days == {"20260310", "20260309", "20260308", "20260307"}
    assert len(keep) == 5


def test_old_logs_are_gzipped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "log").mkdir(parents=True)
    old = data / "log" / "bite-2026-01-01.jsonl"
    old.write_text('{"msg": "old"}\n', encoding="utf-8")
    with freeze_time(datetime(2026, 3, 1, tzinfo=UTC)):
        result = bite("backup-run", "--data-dir", str(data), "--config", str(config(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not old.exists()
    with gzip.open(data / "log" / "bite-2026-01-01.jsonl.gz", "rt") as handle:
        assert handle.read() == '{"msg": "old"}\n'


def test_restore_round_trips_and_arms_the_switch(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cfg_path = config(tmp_path)
    state = fresh_state(data)
    state.repo.set_state("marker", "before", datetime.now(UTC))
    state.close()
    done = bite("backup-run", "--data-dir", str(data), "--config", str(cfg_path), "--json")
    backup = Path(json.loads(done.stdout)["file"])
    state = fresh_state(data)
    state.repo.set_state("marker", "after", datetime.now(UTC))
    state.kill_switch.arm("later", "operational", "test", datetime.now(UTC))
    state.close()
    restored = bite("backup", "restore", str(backup), "--data-dir", str(data), "--json")
    assert restored.returncode == 0, restored.stderr
    out = json.loads(restored.stdout)
    assert Path(out["replaced_kept_at"]).exists()
    state = fresh_state(data)
    assert state.repo.get_state("marker") == "before"
    switch = state.kill_switch.status()
    assert switch.armed and switch.kind == "integrity"
    assert switch.reasons == ("backup_restored",)
    report = state.audit.verify()
    state.close()
    assert report.healthy
    events = [json.loads(x)["event"] for x in (data / "audit.log").read_bytes().splitlines()]
    assert events[-2:] == ["BACKUP_RESTORED", "KILL_SWITCH_ARMED"]
    assert bite("audit", "verify", "--data-dir", str(data)).returncode == 0


def test_restore_is_refused_while_a_job_holds_the_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bite("backup-run", "--data-dir", str(data), "--config", str(config(tmp_path)))
    backup = next((data / "backups").glob("state-*.sqlite"))
    with held_lock(data):
        refused = bite("backup", "restore", str(backup), "--data-dir", str(data))
        assert refused.returncode == 3


def test_restore_refuses_a_file_that_is_not_a_good_backup(tmp_path: Path) -> None:
    bad = tmp_path / "state-x.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    refused = bite("backup", "restore", str(bad), "--data-dir", str(tmp_path / "data"))
    assert refused.returncode == 4
    assert not (tmp_path / "data" / "state.sqlite").exists()
