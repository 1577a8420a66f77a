"""The journal: job runs and alerts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bite.clock import iso_z
from bite.state.db import transaction
from bite.state.models import (
    JobRun,
)
from bite.state.sql import Store, to_json


class JournalStore(Store):
    """Job runs and alerts."""

    # -- runs, snapshots, estimates, alerts -------------------------------------------------

    def start_run(self, job: str, now: datetime, *, dry_run: bool) -> int:
        """Record the start of a job run."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO job_runs (job, started_at, dry_run) VALUES (?, ?, ?)",
                (job, iso_z(now), int(dry_run)),
            )
            return int(cur.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        now: datetime,
        *,
        status: str,
        exit_code: int,
        reasons: Iterable[str] = (),
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record how a job run ended."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE job_runs SET finished_at = ?, status = ?, exit_code = ?, reasons = ?,"
                " details = ? WHERE id = ?",
                (
                    iso_z(now),
                    status,
                    exit_code,
                    to_json(list(reasons)),
                    to_json(details or {}),
                    run_id,
                ),
            )

    def last_success(self, job: str) -> JobRun | None:
        """The last run of ``job`` that exited 0 and was not a dry run."""
        row = self.conn.execute(
            "SELECT * FROM job_runs WHERE job = ? AND exit_code = 0 AND dry_run = 0"
            " ORDER BY started_at DESC, id DESC LIMIT 1",
            (job,),
        ).fetchone()
        if row is None:
            return None
        return JobRun(
            id=row["id"],
            job=row["job"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            status=row["status"],
            exit_code=row["exit_code"],
            dry_run=bool(row["dry_run"]),
        )

    def add_alert(
        self,
        now: datetime,
        severity: str,
        source: str,
        key: str,
        message: str,
        *,
        sent: bool,
        details: dict[str, Any] | None = None,
    ) -> int:
        """Record an alert."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO alerts (ts, severity, source, key, message, sent, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (iso_z(now), severity, source, key, message, int(sent), to_json(details or {})),
            )
            return int(cur.lastrowid or 0)

    def last_alert_sent(self, source: str, key: str) -> str | None:
        """When an alert with this source and key was last sent, or None."""
        row = self.conn.execute(
            "SELECT ts FROM alerts WHERE source = ? AND key = ? AND sent = 1"
            " ORDER BY ts DESC LIMIT 1",
            (source, key),
        ).fetchone()
        return None if row is None else str(row["ts"])

    def last_run(self, job: str) -> dict[str, Any] | None:
        """The newest run of ``job``, dry or not, with its outcome."""
        found = self.runs(job, 1)
        return found[0] if found else None

    def runs(self, job: str, count: int) -> list[dict[str, Any]]:
        """The newest ``count`` runs of ``job``, newest first, with their outcome."""
        rows = self.conn.execute(
            "SELECT started_at, status, exit_code, dry_run, reasons FROM job_runs WHERE job = ?"
            " ORDER BY id DESC LIMIT ?",
            (job, count),
        ).fetchall()
        return [
            {
                "job": job,
                "started_at": r["started_at"],
                "status": r["status"],
                "exit_code": r["exit_code"],
                "dry_run": bool(r["dry_run"]),
                "reasons": json.loads(r["reasons"]),
            }
            for r in rows
        ]

    def recent_alerts(self, count: int) -> list[dict[str, Any]]:
        """The newest ``count`` alerts, newest first."""
        rows = self.conn.execute(
            "SELECT ts, severity, source, message, sent FROM alerts ORDER BY id DESC LIMIT ?",
            (count,),
        ).fetchall()
        return [dict(r) for r in rows]
