"""A damaged database, a full disk, a read-only data dir: exit 4 or 74, one line; restore works.

The disk faults are real: the data dir is a small tmpfs, or one remounted
read-only, inside a private mount namespace that ``unshare`` makes (as root,
or as a user mapped to root in a user namespace).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bite.config.schema import BackupConfig
from bite.jobs.backup import restore_backup, run_backup

from tests.integration.cli_support import ROOT, bite
from tests.state_support import fresh_state

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
COMMANDS = [
    ("backup-run",),
    ("kill-switch", "status"),
    ("audit", "verify"),
    ("status",),
    ("positions",),
    ("orders",),
    ("health-run",),
    ("monitor-run",),
    ("entry-run",),
    ("recover",),
]


def with_backup(data: Path) -> Path:
    """A data dir with some state and one good backup; return the backup."""
    with fresh_state(data) as state:
        for i in range(30):
            state.repo.set_state(f"filler_{i}", "x" * 2000, T0)
        return run_backup(data, state.repo, state.audit, BackupConfig(), T0).file


def damage(path: Path, seed: int = 7) -> None:
    """Seeded random bytes over every page but the first (the header survives: SQLite
    opens it); seeded, so that a run is reproducible."""
    noise = random.Random(seed)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for page in range(1, size // 4096):
            handle.seek(page * 4096 + 100)
            handle.write(noise.randbytes(2000))


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("damaged") / "data"
    backup = with_backup(data)
    damage(data / "state.sqlite")
    return data, backup


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_on_a_damaged_database_exits_4_with_one_line(
    damaged: tuple[Path, Path], args: tuple[str, ...]
) -> None:
    data, _ = damaged
    done = bite(*args, "--data-dir", str(data), "--json")
    assert done.returncode == 4, done.stderr
    assert "not a readable SQLite database" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["exit_code"] == 4


def test_restore_works_on_the_damage_it_exists_for(tmp_path: Path) -> None:
    data = tmp_path / "data"
    backup = with_backup(data)
    damage(data / "state.sqlite")
    done = bite("backup", "restore", str(backup), "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    kept = list(data.glob("state.replaced-*.sqlite"))
    assert len(kept) == 1  # the damaged file is kept aside, as it was
    status = bite("kill-switch", "status", "--data-dir", str(data), "--json")
    assert status.returncode == 0
    assert "backup_restored" in json.loads(status.stdout)["reasons"]
    assert bite("audit", "verify", "--data-dir", str(data)).returncode == 0


def test_two_restores_in_one_second_keep_both_set_aside_copies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    backup = with_backup(data)
    first = restore_backup(data, backup, T0)
    second = restore_backup(data, backup, T0)
    assert first.replaced_kept_at is not None and second.replaced_kept_at is not None
    assert first.replaced_kept_at != second.replaced_kept_at
    assert first.replaced_kept_at.exists() and second.replaced_kept_at.exists()


def test_restore_refuses_the_live_database_and_leaves_it_in_place(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with_backup(data)
    before = (data / "state.sqlite").read_bytes()
    done = bite("backup", "restore", str(data / "state.sqlite"), "--data-dir", str(data))
    assert done.returncode == 2
    assert "is the live database" in done.stderr
    assert (data / "state.sqlite").read_bytes() == before
    assert not list(data.glob("state.replaced-*"))


def test_retention_removes_only_the_copies_it_wrote(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with_backup(data)
    mine = data / "backups" / "state-mine-before-upgrade.sqlite"
    shutil.copy2(data / "state.sqlite", mine)
    with fresh_state(data) as state:
        for hour in range(1, 6):
            run_backup(
                data, state.repo, state.audit, BackupConfig(keep_hourly=1, keep_daily=1),
                T0 + timedelta(hours=hour),
            )  # fmt: skip
    assert mine.exists()
    assert len(list((data / "backups").glob("state-2026*.sqlite"))) == 1


def _unshare_available() -> bool:
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt && umount /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def in_mount_namespace(script: str, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (sh) in a private mount namespace; ``$BITE`` runs bite on ``data``."""
    assert _unshare_available(), "unshare with a mount namespace is needed (Debian: util-linux)"
    bite_cmd = f"{sys.executable} -m bite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERBERO_BITE_")}
    env |= {"BITE": bite_cmd, "DATA": str(data), "SEED": str(data.parent / "seed")}
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def test_a_full_disk_exits_74_and_leaves_no_half_written_copy(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    with_backup(seed)
    (tmp_path / "data").mkdir()
    used = sum(p.stat().st_size for p in seed.rglob("*") if p.is_file())
    done = in_mount_namespace(
        'mount -t tmpfs -o size="$1" tmpfs "$DATA" && cp -a "$SEED"/. "$DATA"/ '
        '&& $BITE backup-run --data-dir "$DATA" --json; echo "rc=$?"; ls -a "$DATA/backups"',
        tmp_path / "data",
        str(used + 64 * 1024),
    )
    assert "rc=74" in done.stdout, done.stdout + done.stderr
    assert "cannot be written" in done.stderr
    assert '"exit_code": 74' in done.stdout
    assert ".tmp" not in done.stdout.split("rc=74")[1]  # the half-written copy is gone


@pytest.mark.parametrize(
    "args", [("health-run",), ("monitor-run",), ("entry-run",), ("status",), ("backup-run",)]
)
def test_a_read_only_data_dir_exits_74(tmp_path: Path, args: tuple[str, ...]) -> None:
    seed = tmp_path / "seed"
    with_backup(seed)
    (tmp_path / "data").mkdir()
    done = in_mount_namespace(
        'mount -t tmpfs tmpfs "$DATA" && cp -a "$SEED"/. "$DATA"/ '
        '&& mount -o remount,ro "$DATA" && $BITE "$@" --data-dir "$DATA"; echo "rc=$?"',
        tmp_path / "data",
        *args,
    )
    assert "rc=74" in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_a_damaged_page_read_back_as_bad_text_is_damage_not_a_bug(tmp_path: Path) -> None:
    """SQLite may hand a damaged page back as text that is not UTF-8: still exit 4."""
    from bite.errors import as_bite_error
    from bite.state.db import DatabaseError, open_database

    data = tmp_path / "data"
    with_backup(data)
    path = data / "state.sqlite"
    raw = bytearray(path.read_bytes())
    start = raw.find(b"CREATE TABLE")  # the schema's text on page 1: invalid UTF-8 in it
    raw[start + 13 : start + 17] = b"\xf4\x90\x80\x80"
    path.write_bytes(bytes(raw))
    with pytest.raises(DatabaseError, match="not a readable SQLite database"):
        open_database(path).close()
    # the same kind of failure anywhere but in bite/state stays what it is: a bug
    assert as_bite_error(UnicodeDecodeError("utf-8", b"\xf4", 0, 1, "elsewhere")) is None
