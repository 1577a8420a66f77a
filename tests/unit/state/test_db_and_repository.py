"""The state database: pragmas, our mark, migrations, the position state machine, fills."""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from bite.errors import ExitCode
from bite.state.db import (
    APPLICATION_ID,
    DatabaseError,
    apply_migrations,
    open_database,
    schema_version,
)
from bite.state.models import TRANSITIONS, IllegalTransitionError, NewFill
from bite.state.repository import Repository
from hypothesis import given
from hypothesis import strategies as st

from tests.support import sample_proposal

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
STATUSES = list(TRANSITIONS)


def repo_at(tmp_path: Path) -> Repository:
    return Repository(open_database(tmp_path / "state.sqlite"))


def test_a_new_database_is_marked_and_tuned(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    conn = repo.conn
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema_version()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "positions",
        "orders",
        "fills",
        "system_state",
        "config_versions",
        "job_runs",
        "dvol_snapshots",
        "equity_snapshots",
        "kelly_estimates",
        "alerts",
    } <= tables


def test_only_a_backtests_state_is_a_throwaway_that_no_one_else_can_open(
    tmp_path: Path,
) -> None:
    """``open_state(durable=False)``: an exclusive lock, the journal in memory, no sync;
    the job's own state stays WAL with a synced journal (the test above)."""
    from bite.context import open_state

    with open_state(tmp_path / "bt", durable=False) as state:
        conn = state.repo.conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
        assert conn.execute("PRAGMA locking_mode").fetchone()[0] == "exclusive"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 0  # OFF
        state.repo.set_state("k", {"v": 1}, NOW)
        other = sqlite3.connect(tmp_path / "bt" / "state.sqlite", timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("SELECT count(*) FROM system_state").fetchone()
        other.close()
        assert state.repo.get_state("k") == {"v": 1}
    with open_state(tmp_path / "job") as state:
        assert state.repo.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    assert apply_migrations(repo.conn, tmp_path) == 0
    repo.close()
    again = repo_at(tmp_path)
    assert again.conn.execute("PRAGMA user_version").fetchone()[0] == schema_version()


def test_a_newer_schema_is_refused_not_recreated(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    repo.set_state("marker", 1, NOW)
    repo.conn.execute("PRAGMA user_version = 99")
    repo.close()
    with pytest.raises(DatabaseError, match="newer") as caught:
        repo_at(tmp_path)
    assert caught.value.exit_code == ExitCode.INTEGRITY
    conn = sqlite3.connect(tmp_path / "state.sqlite")
    assert conn.execute("SELECT count(*) FROM system_state").fetchone()[0] == 1


def test_a_database_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "state.sqlite")
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="not a Cerbero Bite database"):
        repo_at(tmp_path)


def test_a_corrupt_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DatabaseError, match="not a readable SQLite database"):
        repo_at(tmp_path)


def _position(repo: Repository, pid: str = "p-1") -> None:
    proposal = sample_proposal()
    repo.insert_proposed(
        replace(proposal, proposal_id=pid, label=f"bite-{pid}"),
        sizing_loss_eur=Decimal("140"),
        dvol_at_entry=62.0,
        sample_id=None,
    )


def _walk_to(repo: Repository, pid: str, status: str) -> None:
    path = {
        "proposed": [],
        "awaiting_fill": ["awaiting_fill"],
        "open": ["open"],
        "closing": ["open", "closing"],
        "closed": ["open", "closing", "closed"],
        "cancelled": ["cancelled"],
        "expired": ["open", "expired"],
    }[status]
    for step in path:
        repo.transition(pid, step, NOW)


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c, t in itertools.product(STATUSES, STATUSES) if t in TRANSITIONS[c]],
)
def test_every_legal_transition_succeeds(tmp_path: Path, current: str, target: str) -> None:
    repo = repo_at(tmp_path)
    _position(repo)
    _walk_to(repo, "p-1", current)
    assert repo.transition("p-1", target, NOW).status == target


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c, t in itertools.product(STATUSES, STATUSES) if t not in TRANSITIONS[c]],
)
def test_every_illegal_transition_raises_and_writes_nothing(
    tmp_path: Path, current: str, target: str
) -> None:
    repo = repo_at(tmp_path)
    _position(repo)
    _walk_to(repo, "p-1", current)
    before = repo.get_position("p-1")
    with pytest.raises(IllegalTransitionError):
        repo.transition("p-1", target, NOW + timedelta(hours=1), contracts=99, close_reason="x")
    assert repo.get_position("p-1") == before


def test_closing_to_open_books_a_partial_exit(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    _position(repo)
    repo.transition("p-1", "open", NOW, contracts=3, opened_at=NOW)
    repo.transition("p-1", "closing", NOW)
    row = repo.transition("p-1", "open", NOW, contracts=1, realized_pnl_eth=Decimal("0.004"))
    assert (row.status, row.contracts, row.realized_pnl_eth) == ("open", 1, Decimal("0.004"))


def test_order_labels_are_unique(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    _position(repo)
    kwargs = dict(
        position_id="p-1",
        kind="entry",
        attempt=0,
        label="bite-p-1",
        legs=[],
        side="sell",
        amount=3,
        ladder=[Decimal("0.005")],
        price=Decimal("0.005"),
        now=NOW,
    )
    repo.insert_order(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        repo.insert_order(**kwargs)  # type: ignore[arg-type]
    assert len(repo.orders("p-1")) == 1


@given(st.lists(st.sampled_from(["t1", "t2", "t3"]), min_size=1, max_size=12))
def test_fills_are_stored_once_per_trade_id(trade_ids: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = repo_at(Path(tmp))
        _position(repo)
        oid = repo.insert_order(
            position_id="p-1",
            kind="entry",
            attempt=0,
            label="bite-p-1",
            legs=[],
            side="sell",
            amount=3,
            ladder=[Decimal("0.005")],
            price=Decimal("0.005"),
            now=NOW,
        )
        inserted = [
            repo.add_fill(
                oid,
                NewFill(
                    t,
                    "ETH-X",
                    "sell",
                    Decimal(1),
                    Decimal("0.005"),
                    Decimal("0.0003"),
                    "ETH",
                    "2026-03-02T14:00:00Z",
                ),
            )
            for t in trade_ids
        ]
        assert sum(inserted) == len(set(trade_ids))
        assert {f.trade_id for f in repo.fills(oid)} == set(trade_ids)
        repo.close()


def test_an_unknown_field_is_refused(tmp_path: Path) -> None:
    repo = repo_at(tmp_path)
    _position(repo)
    with pytest.raises(ValueError, match="not a position field"):
        repo.transition("p-1", "open", NOW, status="closed")


def test_an_illegal_transition_is_an_integrity_error_exit_4(tmp_path: Path) -> None:
    from bite.errors import ExitCode, IntegrityError
    from bite.safety.audit_log import AuditChainError
    from bite.state.models import IllegalTransitionError, check_transition

    with pytest.raises(IntegrityError) as caught:
        check_transition("p1", "closed", "open")
    assert isinstance(caught.value, IllegalTransitionError)
    assert caught.value.exit_code == ExitCode.INTEGRITY
    assert AuditChainError("x").exit_code == ExitCode.INTEGRITY
