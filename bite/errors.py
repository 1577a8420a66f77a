"""The one error tree, grouped by what the operator does, and the one map to exit codes.

::

    BiteError                          exit 1   a bug: traceback to the log
    ├── UsageError                     exit 2   fix the command line
    │   └── ConfigError                exit 2   fix the file and field it names
    ├── LockTimeoutError               exit 3   another job holds the lock; it resolves itself
    ├── IntegrityError                 exit 4   state cannot be trusted; a person looks
    ├── IoFailureError                 exit 74  the disk is full or read-only; free or fix it
    ├── TemporaryFailureError          exit 75  a dependency failed; the next run retries
    └── McpError                       exit 75  a service call failed (unless said)
        ├── McpAuthError               exit 2   401/403: credentials refused, never retried
        ├── McpProtocolError           exit 2   an answer out of contract: a person looks
        ├── McpRequestError            exit 75  the service refused the request (other 4xx)
        ├── McpUnavailableError        exit 75  408/429/5xx, timeouts, connection errors
        ├── McpDataAnomalyError        exit 75  an implausible value (docs/strategy.md 11)
        └── McpComboUnavailableError   exit 75  a combo book the venue will not open

A venue's refusal of an order is not an error: 200 with ``order_state: rejected``.

:func:`as_bite_error` is the one place where a failure from below (SQLite, the
file system) becomes the error it means for the operator; anything it does not
know is a bug, exit 1. ``EXIT_CODES`` is the one text of the exit codes.
"""

from __future__ import annotations

import errno
import sys
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every job and command (docs/operations.md 2)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    LOCKED = 3
    INTEGRITY = 4
    UNHEALTHY = 5
    IOERR = 74
    TEMPFAIL = 75


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "done (any decision)",
    ExitCode.INTERNAL: "internal error (a bug; traceback in the log)",
    ExitCode.USAGE: "usage, configuration or credentials; or a service answered out of contract",
    ExitCode.LOCKED: "job lock not acquired",
    ExitCode.INTEGRITY: "integrity check failed",
    ExitCode.UNHEALTHY: "status --check: the heartbeat is missing or stale",
    ExitCode.IOERR: "disk full or data dir not writable",
    ExitCode.TEMPFAIL: "broker unavailable (nothing sent; the next run retries)",
}

EXIT_CODES_HELP = "Exit codes: " + ", ".join(f"{int(c)} {text}" for c, text in EXIT_CODES.items())


class BiteError(Exception):
    """Root of every error bite raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(BiteError):
    """The command line asks for something that cannot be done."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A configuration file is unreadable or invalid; names the file and the field."""

    def __init__(self, file: str, problems: list[tuple[str, str]]) -> None:
        self.file = file
        self.problems = problems
        lines = [
            f"{file}: {field}: {message}" if field else f"{file}: {message}"
            for field, message in problems
        ]
        super().__init__("\n".join(lines))


class LockTimeoutError(BiteError):
    """The job lock was not acquired in time."""

    exit_code = ExitCode.LOCKED


class IntegrityError(BiteError):
    """A check of the system's own state failed."""

    exit_code = ExitCode.INTEGRITY


class IoFailureError(BiteError):
    """The data dir cannot be written: disk full, read-only, not a directory."""

    exit_code = ExitCode.IOERR


class TemporaryFailureError(BiteError):
    """A dependency failed in a way the next run may not see."""

    exit_code = ExitCode.TEMPFAIL


class McpError(BiteError):
    """A service call failed."""

    exit_code = ExitCode.TEMPFAIL

    def __init__(self, service: str, tool: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"{service}.{tool}: {message}")
        self.service = service
        self.tool = tool
        self.detail = message
        self.code = code  # the service's own error code, when it sent one

    @property
    def venue_paused(self) -> bool:
        """The venue said it is settling, in maintenance or locked: nothing was sent, and
        nothing is wrong with bite or its link (no health strike)."""
        return self.code in VENUE_PAUSED


VENUE_PAUSED = frozenset(
    {"settlement_in_progress", "system_maintenance", "temporarily_unavailable", "venue_locked"}
)


class McpAuthError(McpError):
    """Credentials refused (401/403)."""

    exit_code = ExitCode.USAGE


class McpProtocolError(McpError):
    """Unknown tool, or a body that does not match the contract: a retry cannot help."""

    exit_code = ExitCode.USAGE


class McpRequestError(McpError):
    """The service refused the request (4xx other than auth)."""


class McpUnavailableError(McpError):
    """Unreachable, overloaded, or timed out."""


class McpDataAnomalyError(McpError):
    """A value the cycle uses is implausible."""


class McpComboUnavailableError(McpError):
    """The venue will not open the combo book."""


# SQLite's primary result codes (sqlite.org/rescode.html)
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26
_IO_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
    | {errno.ENOTDIR, errno.EISDIR}
)


def _sqlite_error(exc: BaseException) -> BiteError | None:
    sqlite3 = sys.modules.get("sqlite3")  # no SQLite error without SQLite loaded
    if sqlite3 is None or not isinstance(exc, sqlite3.DatabaseError):
        return None
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or type(exc) is sqlite3.DatabaseError:
        return IntegrityError(
            f"the state database is damaged ({exc}); restore a backup: "
            "bite backup restore data/backups/state-<time>.sqlite"
        )
    if code in (_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_PERM):
        return IoFailureError(f"the state database cannot be written ({exc})")
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return TemporaryFailureError(f"the state database is busy ({exc})")
    return None


def _raised_in_state(exc: BaseException) -> bool:
    """Whether the failure came from reading the state database (``bite/state/``)."""
    tb = exc.__traceback__
    while tb is not None:
        if "/bite/state/" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        tb = tb.tb_next
    return False


def as_bite_error(exc: BaseException) -> BiteError | None:
    """What a failure means for the operator; ``None`` when it is a bug (exit 1)."""
    if isinstance(exc, BiteError):
        return exc
    found = _sqlite_error(exc)
    if found is not None:
        return found
    if isinstance(exc, UnicodeDecodeError) and _raised_in_state(exc):
        return IntegrityError(  # SQLite decoding a damaged page as text
            f"the state database is damaged ({exc}); restore a backup: "
            "bite backup restore data/backups/state-<time>.sqlite"
        )
    if isinstance(exc, OSError) and exc.errno in _IO_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        return IoFailureError(f"{where}{exc.strerror or exc}")
    return None
