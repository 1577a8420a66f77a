"""Open ``data/state.sqlite``: pragmas, our mark, numbered migrations in a transaction.

A file that is not ours, is newer than this code, or is corrupt raises
:class:`DatabaseError` (exit 4); it is never re-created silently.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bite.errors import IntegrityError, IoFailureError, as_bite_error

APPLICATION_ID = 0x42495445  # "BITE"
BUSY_TIMEOUT_MS = 5000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseError(IntegrityError):
    """The database cannot be trusted or used as it is."""


@dataclass(frozen=True)
class Migration:
    """One numbered schema step."""

    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped in ``bite/state/migrations``, in order."""
    found: list[Migration] = []
    for entry in resources.files("bite.state.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration numbers must run 1, 2, 3...: {migration.name}")
    return found


def schema_version() -> int:
    """The schema version this code writes."""
    return len(migrations())


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    return conn


def _pragma_int(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute(f"PRAGMA {name}").fetchone()
    return int(row[0])


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return int(row[0]) > 0


def open_database(path: Path, *, migrate: bool = True) -> sqlite3.Connection:
    """Open (creating when absent) and migrate the state database at ``path``.

    A damaged, foreign, newer or empty file raises :class:`DatabaseError` (exit 4);
    a data dir that cannot be written raises :class:`bite.errors.IoFailureError`.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IoFailureError(
            f"{path.parent}: cannot create the data dir ({exc.strerror})"
        ) from None
    if path.exists() and (not path.is_file() or path.stat().st_size == 0):
        what = "not a regular file" if not path.is_file() else "0 bytes"
        raise DatabaseError(
            f"{path}: {what}, not a database; move it away and restore a backup "
            "(bite backup restore FILE) or start afresh"
        )
    conn: sqlite3.Connection | None = None
    try:
        conn = _connect(path)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        app_id = _pragma_int(conn, "application_id")
        version = _pragma_int(conn, "user_version")
        fresh = app_id == 0 and version == 0 and not _has_tables(conn)
        if not fresh and app_id != APPLICATION_ID:
            raise DatabaseError(
                f"{path}: not a Cerbero Bite database (application_id "
                f"{app_id:#x}); refusing to touch it"
            )
        latest = schema_version()
        if version > latest:
            raise DatabaseError(
                f"{path}: schema version {version} is newer than this code "
                f"({latest}); upgrade bite or restore a matching backup"
            )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if migrate:
            apply_migrations(conn, path)
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, UnicodeDecodeError):  # a damaged page read back as text
            raise DatabaseError(f"{path}: not a readable SQLite database ({exc})") from None
        if isinstance(exc, sqlite3.DatabaseError):
            known = as_bite_error(exc)
            if isinstance(known, IntegrityError):
                raise DatabaseError(f"{path}: not a readable SQLite database ({exc})") from None
            if known is not None:
                raise known from None
        raise
    return conn


def open_readonly(path: Path, *, timeout_s: float = 2.0) -> sqlite3.Connection:
    """Open the state database for reading only (``mode=ro``): every write through it fails.

    For the dashboard, which may stay open while the jobs run: it never migrates, never
    creates the file, never takes the job lock. A missing, foreign, damaged or
    differently versioned file raises :class:`DatabaseError` naming the file and what to do.
    """
    if not path.is_file():
        raise DatabaseError(f"{path}: no state database yet (no job has run in this data dir)")
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            timeout=timeout_s,  # a page waits this long for a writer, then says so
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        app_id = _pragma_int(conn, "application_id")
        version = _pragma_int(conn, "user_version")
        if app_id != APPLICATION_ID:
            raise DatabaseError(f"{path}: not a Cerbero Bite database (application_id {app_id:#x})")
        if version != schema_version():
            raise DatabaseError(
                f"{path}: schema version {version}, this code reads {schema_version()}: "
                "run any job (e.g. bite health-run) to migrate it, or upgrade bite"
            )
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, sqlite3.DatabaseError):
            raise DatabaseError(f"{path}: cannot be read ({exc})") from None
        raise
    return conn


def apply_migrations(conn: sqlite3.Connection, path: Path) -> int:
    """Apply each migration above ``user_version`` in its own transaction; return how many."""
    applied = 0
    for migration in migrations():
        with transaction(conn):
            current = _pragma_int(conn, "user_version")
            if migration.version <= current:
                continue
            if migration.version != current + 1:
                raise DatabaseError(
                    f"{path}: schema version {current} cannot take {migration.name}"
                )
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {migration.version}")
            applied += 1
    return applied


def _statements(sql: str) -> Iterator[str]:
    """Split a migration into statements (``executescript`` would commit our transaction)."""
    buffer = ""
    for line in sql.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        raise RuntimeError("a migration ends in the middle of a statement")


def make_throwaway(conn: sqlite3.Connection) -> None:
    """A backtest's database, which no other connection opens and nobody keeps: one
    exclusive lock held throughout, the journal in memory, no sync (about half the cost
    of each read and write). Never for state that must survive its process."""
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    conn.execute("PRAGMA journal_mode = MEMORY")
    conn.execute("PRAGMA synchronous = OFF")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def integrity_check(conn: sqlite3.Connection) -> str:
    """``PRAGMA integrity_check``: ``ok`` or the first problem."""
    row = conn.execute("PRAGMA integrity_check").fetchone()
    return str(row[0])
