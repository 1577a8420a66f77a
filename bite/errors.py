"""The error tree, grouped by what the operator does, and the exit codes.

::

    BiteError                      exit 1   a bug: traceback to the log
    ├── UsageError                 exit 2   fix the command line
    ├── ConfigError                exit 2   fix the file and field it names
    ├── LockTimeoutError           exit 3   another job holds the lock; it resolves itself
    ├── IntegrityError             exit 4   state cannot be trusted; a person looks
    └── TemporaryFailureError      exit 75  a service failed; the next run retries

The service errors (``McpError`` and its children) live in ``bite.clients`` and
map onto exit 75 or 2 as operations.md section 2 says.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every job and command (operations.md section 2)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    LOCKED = 3
    INTEGRITY = 4
    TEMPFAIL = 75


class BiteError(Exception):
    """Root of every error bite raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(BiteError):
    """The command line asks for something that cannot be done."""

    exit_code = ExitCode.USAGE


class ConfigError(BiteError):
    """A configuration file is unreadable or invalid; names the file and the field."""

    exit_code = ExitCode.USAGE

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


class TemporaryFailureError(BiteError):
    """A dependency failed in a way the next run may not see."""

    exit_code = ExitCode.TEMPFAIL
