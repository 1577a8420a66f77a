"""Settings and measures: the system state (kill switch, audit anchor), approved configs,
samples, DVOL and equity snapshots and Kelly estimates."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from bite.clock import iso_z
from bite.state.db import transaction
from bite.state.models import (
    ConfigVersion,
)
from bite.state.sql import ANCHOR_KEY, Store, to_json


class SettingsStore(Store):
    """System state, configurations, samples, snapshots and estimates."""

    # -- system state ---------------------------------------------------------------------

    def get_state(self, key: str) -> Any:
        """A system_state value (decoded JSON), or None."""
        row = self.conn.execute("SELECT value FROM system_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row["value"])

    def set_state(self, key: str, value: Any, now: datetime) -> None:
        """Store a system_state value (one statement: atomic on its own)."""
        self.conn.execute(
            "INSERT INTO system_state (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (key, to_json(value), iso_z(now)),
        )

    def get_anchor(self) -> tuple[int, str] | None:
        """The audit anchor: the seq and hash of the last line the database has seen."""
        value = self.get_state(ANCHOR_KEY)
        if value is None:
            return None
        return int(value["seq"]), str(value["hash"])

    def set_anchor(self, seq: int, digest: str, now: datetime) -> None:
        """Move the audit anchor."""
        self.set_state(ANCHOR_KEY, {"seq": seq, "hash": digest}, now)

    # -- configuration and samples ---------------------------------------------------------

    def add_config_version(
        self,
        digest: str,
        dump: str,
        source_file: str,
        now: datetime,
        approved_by: str,
        new_sample: bool,
    ) -> int:
        """Record an approved configuration."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO config_versions (hash, dump, source_file, approved_at, approved_by,"
                " new_sample) VALUES (?, ?, ?, ?, ?, ?)",
                (digest, dump, source_file, iso_z(now), approved_by, int(new_sample)),
            )
            return int(cur.lastrowid or 0)

    def last_approved_config(self) -> ConfigVersion | None:
        """The most recent approval."""
        row = self.conn.execute("SELECT * FROM config_versions ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else self._config_version(row)

    def is_config_approved(self, digest: str) -> bool:
        """Whether this hash is the latest approved one."""
        last = self.last_approved_config()
        return last is not None and last.hash == digest

    @staticmethod
    def _config_version(row: sqlite3.Row) -> ConfigVersion:
        return ConfigVersion(
            id=row["id"],
            hash=row["hash"],
            dump=row["dump"],
            source_file=row["source_file"],
            approved_at=row["approved_at"],
            approved_by=row["approved_by"],
            new_sample=bool(row["new_sample"]),
        )

    def start_sample(self, now: datetime, reason: str, config_hash: str | None) -> int:
        """Begin a new Kelly and drawdown sample."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO samples (started_at, reason, config_hash) VALUES (?, ?, ?)",
                (iso_z(now), reason, config_hash),
            )
            return int(cur.lastrowid or 0)

    def current_sample(self) -> tuple[int, str] | None:
        """(id, started_at) of the current sample."""
        row = self.conn.execute(
            "SELECT id, started_at FROM samples ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row["id"]), str(row["started_at"]))

    def add_dvol_snapshot(self, now: datetime, dvol: float, spot: Decimal) -> None:
        """Record DVOL and spot at a run."""
        with transaction(self.conn):
            self.conn.execute(
                "INSERT OR REPLACE INTO dvol_snapshots (ts, dvol, spot) VALUES (?, ?, ?)",
                (iso_z(now), dvol, str(spot)),
            )

    def add_kelly_estimate(self, now: datetime, sample_id: int | None, estimate: Any) -> None:
        """Persist a Kelly estimate an entry used."""
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO kelly_estimates (ts, sample_id, n, risk_fraction, drawdown_pct,"
                " negative_edge, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    iso_z(now),
                    sample_id,
                    estimate.n,
                    estimate.risk_fraction,
                    estimate.drawdown_pct,
                    int(estimate.negative_edge),
                    to_json(asdict(estimate)),
                ),
            )

    def last_spot_since(self, since: datetime) -> Decimal | None:
        """The spot of the newest DVOL snapshot taken at or after ``since``."""
        row = self.conn.execute(
            "SELECT spot FROM dvol_snapshots WHERE ts >= ? ORDER BY ts DESC LIMIT 1",
            (iso_z(since),),
        ).fetchone()
        return None if row is None else Decimal(row["spot"])

    def kelly_history(self) -> list[tuple[str, float, float]]:
        """Every persisted Kelly estimate, oldest first: (time, risk fraction, drawdown %)."""
        rows = self.conn.execute(
            "SELECT ts, risk_fraction, drawdown_pct FROM kelly_estimates ORDER BY id"
        ).fetchall()
        return [(str(r["ts"]), float(r["risk_fraction"]), float(r["drawdown_pct"])) for r in rows]

    def add_equity_snapshot(self, now: datetime, eth: Decimal, eur: Decimal, usd: Decimal) -> None:
        """The account's equity as an entry read it (the dashboard's equity curve)."""
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO equity_snapshots (ts, equity_eth, equity_eur, equity_usd)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (ts) DO UPDATE SET"
                " equity_eth = excluded.equity_eth, equity_eur = excluded.equity_eur,"
                " equity_usd = excluded.equity_usd",
                (iso_z(now), str(eth), str(eur), str(usd)),
            )

    def equity_history(self) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        """Every equity snapshot, oldest first: (time, ETH, EUR, USD)."""
        rows = self.conn.execute(
            "SELECT ts, equity_eth, equity_eur, equity_usd FROM equity_snapshots ORDER BY ts"
        ).fetchall()
        return [
            (
                str(r["ts"]),
                Decimal(r["equity_eth"]),
                Decimal(r["equity_eur"]),
                Decimal(r["equity_usd"]),
            )
            for r in rows
        ]

    def latest_kelly_estimate(self) -> dict[str, Any] | None:
        """The newest persisted Kelly estimate, with its time (``ts``)."""
        row = self.conn.execute(
            "SELECT ts, details FROM kelly_estimates ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        details: dict[str, Any] = json.loads(row["details"])
        details["ts"] = row["ts"]
        return details
