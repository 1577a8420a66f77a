"""Backups (docs/operations.md 7): ``backup-run`` and ``backup restore``.

``backup-run`` copies the database with ``VACUUM INTO`` a temporary name, checks
the copy with ``PRAGMA integrity_check``, renames it to
``data/backups/state-YYYYmmddTHHMMSSZ.sqlite``, copies ``audit.log`` beside it,
keeps ``keep_hourly`` copies and one a day for ``keep_daily`` days, and gzips
``.jsonl`` logs older than ``gzip_logs_after_days``.

``backup restore FILE`` holds the job lock for the whole swap, keeps the
replaced database aside, audits ``BACKUP_RESTORED`` from the log's tail, and
arms the kill switch (integrity, ``backup_restored``).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bite.clock import Clock
from bite.config.loader import config_from_dump, load_config
from bite.config.schema import BackupConfig
from bite.config.secrets import known_secret_values
from bite.context import open_state
from bite.errors import (
    ConfigError,
    ExitCode,
    IntegrityError,
    IoFailureError,
    UsageError,
    as_bite_error,
)
from bite.jobs.chains import prune_chains
from bite.safety.audit_log import VERIFIED_KEY, AuditLog, VerifiedHead
from bite.safety.kill_switch import KillSwitch
from bite.safety.lock import JobLock
from bite.state.db import (
    APPLICATION_ID,
    DatabaseError,
    integrity_check,
    open_database,
    schema_version,
)
from bite.state.repository import Repository

log = logging.getLogger("bite.backup")

STATE_NAME = "state.sqlite"
BACKUP_DIR = "backups"
_BACKUP_NAME = re.compile(r"^state-(\d{8}T\d{6}Z)\.sqlite$")
_LOG_NAME = re.compile(r"^bite-(\d{4}-\d{2}-\d{2})\.jsonl$")
STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class BackupResult:
    """What ``backup-run`` did."""

    file: Path
    audit_copy: Path | None
    size_bytes: int
    removed: tuple[str, ...]
    gzipped: tuple[str, ...]


def check_backup_file(path: Path) -> None:
    """Refuse a file that is not a sound database of ours (exit 4)."""
    if not path.is_file():
        raise IntegrityError(f"{path}: no such backup file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = integrity_check(conn)
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise IntegrityError(f"{path}: not a readable SQLite database ({exc})") from None
    if result != "ok":
        raise IntegrityError(f"{path}: integrity_check failed: {result}")
    if app_id != APPLICATION_ID:
        raise IntegrityError(f"{path}: not a Cerbero Bite database")
    if version > schema_version():
        raise IntegrityError(f"{path}: schema version {version} is newer than this code")


def backup_time(name: str) -> datetime | None:
    """The UTC time in a backup's file name."""
    match = _BACKUP_NAME.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), STAMP).replace(tzinfo=UTC)


def to_keep(names: list[str], now: datetime, cfg: BackupConfig) -> set[str]:
    """The newest ``keep_hourly`` backups and the newest of each of the last ``keep_daily`` days."""
    dated: list[tuple[datetime, str]] = []
    for name in names:
        stamp = backup_time(name)
        if stamp is not None:
            dated.append((stamp, name))
    dated.sort(reverse=True)
    keep = {name for _, name in dated[: cfg.keep_hourly]}
    first_day = now.date() - timedelta(days=cfg.keep_daily - 1) if cfg.keep_daily else None
    seen_days: set[date] = set()
    for stamp, name in dated:
        day = stamp.date()
        if first_day is not None and day >= first_day and day not in seen_days:
            seen_days.add(day)
            keep.add(name)
    return keep


def gzip_old_logs(data_dir: Path, now: datetime, after_days: int) -> tuple[str, ...]:
    """Compress ``.jsonl`` logs whose day is more than ``after_days`` old."""
    log_dir = data_dir / "log"
    done: list[str] = []
    if not log_dir.exists():
        return ()
    limit = now.date() - timedelta(days=after_days)
    for path in sorted(log_dir.glob("bite-*.jsonl")):
        match = _LOG_NAME.match(path.name)
        if not match or date.fromisoformat(match.group(1)) >= limit:
            continue
        target = path.with_name(path.name + ".gz")
        tmp = target.with_name("." + target.name + ".tmp")
        with path.open("rb") as src, gzip.open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, target)
        path.unlink()
        done.append(target.name)
    return tuple(done)


class AuditChainBrokenError(IntegrityError):
    """The full walk found the audit chain broken: the log is not copied as good."""


def _copy_verified_log(
    audit: AuditLog,
    repo: Repository,
    target_dir: Path,
    stamp: str,
    now: datetime,
    switch: KillSwitch | None,
) -> Path | None:
    """Walk the whole chain, then copy exactly the bytes walked beside the database copy.

    A broken chain is never carried into a backup as good: the copy is named
    ``.broken``, the kill switch is armed (integrity) and the backup fails (exit 4).
    A good walk stores its head, so that health-run checks only what follows.
    """
    if not audit.path.exists():
        return None
    with audit.locked(exclusive=False):  # nothing appends while we walk and copy
        report = audit.verify()
        good = report.ok
        copy = target_dir / (f"audit-{stamp}.log" if good else f"audit-{stamp}.broken.log")
        with audit.path.open("rb") as src, copy.open("wb") as dst:
            dst.write(src.read(report.size))
    if good:
        first = audit.first_hash()
        if report.records and first is not None:
            head = VerifiedHead(report.last_seq, report.last_hash, report.size, first)
            repo.set_state(VERIFIED_KEY, head.to_dict(), now)
        return copy
    detail = f"seq {report.first_bad_seq}: {report.problem}"
    if switch is not None:
        switch.arm("audit_chain_broken", "integrity", "backup-run", now)
    raise AuditChainBrokenError(
        f"the audit chain is broken at {detail}; copied as {copy.name} (not as good); "
        "kill switch armed: run `bite audit verify`"
    )


def run_backup(
    data_dir: Path,
    repo: Repository,
    audit: AuditLog,
    cfg: BackupConfig,
    now: datetime,
    switch: KillSwitch | None = None,
) -> BackupResult:
    """Copy, check, rename, copy the audit log, rotate, gzip; audit ``BACKUP_DONE``."""
    target_dir = data_dir / BACKUP_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime(STAMP)
    final = target_dir / f"state-{stamp}.sqlite"
    tmp = target_dir / f".state-{stamp}.sqlite.tmp"
    tmp.unlink(missing_ok=True)
    try:
        repo.conn.execute("VACUUM INTO ?", (str(tmp),))
        check_backup_file(tmp)
    except Exception as exc:  # a half-written copy must not fill the disk further
        tmp.unlink(missing_ok=True)
        if isinstance(exc, IntegrityError):
            raise
        known = as_bite_error(exc)
        if isinstance(known, IoFailureError):
            raise IoFailureError(f"{final}: the backup copy cannot be written ({exc})") from None
        raise
    os.replace(tmp, final)
    audit_copy = _copy_verified_log(audit, repo, target_dir, stamp, now, switch)
    # only the names this job writes: an operator's own copy is never removed
    names = [p.name for p in target_dir.glob("state-*.sqlite") if _BACKUP_NAME.match(p.name)]
    keep = to_keep(names, now, cfg)
    removed: list[str] = []
    for name in sorted(set(names) - keep):
        (target_dir / name).unlink(missing_ok=True)
        match = _BACKUP_NAME.match(name)
        if match:
            (target_dir / f"audit-{match.group(1)}.log").unlink(missing_ok=True)
        removed.append(name)
    gzipped = gzip_old_logs(data_dir, now, cfg.gzip_logs_after_days)
    removed += prune_chains(data_dir, now, cfg.keep_chain_days)
    size = final.stat().st_size
    audit.append(
        "BACKUP_DONE",
        {
            "file": final.name,
            "bytes": size,
            "integrity": "ok",
            "removed": removed,
            "gzipped": list(gzipped),
        },
        now,
    )
    log.info("backup %s written (%d bytes), %d old removed", final.name, size, len(removed))
    return BackupResult(final, audit_copy, size, tuple(removed), gzipped)


@dataclass(frozen=True)
class RestoreResult:
    """What ``backup restore`` did."""

    restored_from: Path
    replaced_kept_at: Path | None
    audit_seq: int


def _set_aside_name(data_dir: Path, now: datetime) -> Path:
    """A name for the replaced database that no earlier restore used."""
    stem = f"state.replaced-{now.strftime(STAMP)}"
    candidate = data_dir / f"{stem}.sqlite"
    n = 1
    while any(candidate.with_name(candidate.name + s).exists() for s in ("", "-wal", "-shm")):
        n += 1
        candidate = data_dir / f"{stem}-{n}.sqlite"
    return candidate


def restore_backup(
    data_dir: Path, source: Path, now: datetime, *, secrets: tuple[str, ...] = ()
) -> RestoreResult:
    """Swap the database for a checked backup under the job lock; audit; arm the switch.

    The live database itself is refused as a source; a damaged live database is
    set aside as it is (that is what restoring is for); a set-aside copy is never
    overwritten.
    """
    state = data_dir / STATE_NAME
    if source.exists() and state.exists() and source.resolve() == state.resolve():
        raise UsageError(f"{source} is the live database; restore from a file in {BACKUP_DIR}/")
    check_backup_file(source)
    with JobLock(data_dir, timeout_s=0, owner="backup restore"):
        kept: Path | None = None
        if state.exists():
            try:
                current = open_database(state, migrate=False)
                current.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                current.close()
            except DatabaseError:
                log.warning("the replaced database could not be checkpointed; kept as it is")
            kept = _set_aside_name(data_dir, now)
            os.replace(state, kept)
            for suffix in ("-wal", "-shm"):
                side = state.with_name(state.name + suffix)
                if side.exists():
                    os.replace(side, kept.with_name(kept.name + suffix))
        tmp = data_dir / f".{STATE_NAME}.restoring"
        shutil.copy2(source, tmp)
        os.replace(tmp, state)
        repo = Repository(open_database(state))
        try:
            audit = AuditLog(data_dir, repo, secrets)
            record = audit.append(
                "BACKUP_RESTORED",
                {"from": source.name, "replaced_kept_at": kept.name if kept else None},
                now,
                trust_tail=True,  # the restored anchor is older than the log by design
            )
            KillSwitch(repo, audit).arm("backup_restored", "integrity", "backup restore", now)
        finally:
            repo.close()
    log.warning("restored %s; the kill switch is armed until an operator disarms it", source.name)
    return RestoreResult(source, kept, record.seq)


@dataclass(frozen=True)
class BackupOutcome:
    """The result of one ``backup-run``, for the CLI and ``--json``."""

    status: str
    exit_code: int
    summary: str
    started_at: datetime
    finished_at: datetime
    result: BackupResult | None
    reasons: tuple[str, ...] = ()
    environment: str | None = None
    config_approved: bool | None = None

    def to_json(self) -> dict[str, object]:
        """The job's JSON object (docs/operations.md 2)."""
        return {
            "job": "backup-run",
            "status": self.status,
            "reasons": list(self.reasons),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "dry_run": False,
            "config_approved": self.config_approved,
            "environment": self.environment,
            "file": str(self.result.file) if self.result else None,
            "bytes": self.result.size_bytes if self.result else None,
            "removed": list(self.result.removed) if self.result else [],
            "gzipped": list(self.result.gzipped) if self.result else [],
        }


def _backup_settings(
    config_path: Path, repo: Repository
) -> tuple[BackupConfig, str | None, bool | None]:
    """(settings, environment, approved): the file's, else the last approved, else defaults."""
    try:
        loaded = load_config(config_path)
        return (
            loaded.config.backup,
            loaded.config.execution.environment,
            repo.is_config_approved(loaded.hash),
        )
    except ConfigError:
        last = repo.last_approved_config()
        if last is not None:
            log.warning("config file invalid: backup-run uses the last approved settings")
            approved = config_from_dump(last.dump)
            return approved.backup, approved.execution.environment, True
        log.warning("config file invalid and nothing approved: backup-run uses the defaults")
        return BackupConfig(), None, None


def run_backup_job(
    data_dir: Path,
    config_path: Path,
    clock: Clock,
    lock_timeout_s: float,
    environ: Mapping[str, str],
) -> BackupOutcome:
    """The ``backup-run`` job: lock, back up, record the run."""
    started = clock.now()
    with (
        JobLock(data_dir, lock_timeout_s, owner="backup-run"),
        open_state(data_dir, secrets=known_secret_values(environ)) as state,
    ):
        run_id = state.repo.start_run("backup-run", started, dry_run=False)
        settings, environment, approved = _backup_settings(config_path, state.repo)
        try:
            result = run_backup(
                data_dir, state.repo, state.audit, settings, clock.now(), state.kill_switch
            )
        except IntegrityError as exc:
            log.error("backup failed its check: %s", exc)
            finished = clock.now()
            state.repo.finish_run(
                run_id,
                finished,
                status="failed",
                exit_code=int(ExitCode.INTEGRITY),
                reasons=["integrity_check"],
            )
            return BackupOutcome(
                "failed",
                int(ExitCode.INTEGRITY),
                f"backup FAILED: {exc}",
                started,
                finished,
                None,
                ("integrity_check",),
                environment,
                approved,
            )
        finished = clock.now()
        state.repo.finish_run(
            run_id, finished, status="ok", exit_code=0, details={"file": result.file.name}
        )
    summary = (
        f"backup {result.file} ({result.size_bytes} bytes); removed "
        f"{len(result.removed)}, gzipped {len(result.gzipped)} log(s)"
    )
    return BackupOutcome("ok", 0, summary, started, finished, result, (), environment, approved)
