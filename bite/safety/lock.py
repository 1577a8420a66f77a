"""The job lock: ``fcntl.flock`` on ``data/.lockfile`` (docs/operations.md 1).

The kernel releases it when the holder dies, however it dies. Operator commands
(kill switch, config approval) do not take it; ``backup restore`` does, without
waiting.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from bite.errors import LockTimeoutError

LOCK_NAME = ".lockfile"
_POLL_S = 0.05


class JobLock:
    """An exclusive lock held for a whole job run."""

    def __init__(self, data_dir: Path, timeout_s: float, owner: str) -> None:
        self.path = data_dir / LOCK_NAME
        self.timeout_s = timeout_s
        self.owner = owner
        self._fd: int | None = None

    def acquire(self) -> None:
        """Wait up to the timeout; raise :class:`LockTimeoutError` (exit 3) when not got."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + max(self.timeout_s, 0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise LockTimeoutError(
                        f"{self.path}: job lock held by {holder or 'another job'}; "
                        f"gave up after {self.timeout_s:g} s"
                    ) from None
                time.sleep(_POLL_S)
        os.ftruncate(fd, 0)
        os.write(fd, f"{self.owner} pid {os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JobLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def is_locked(data_dir: Path) -> bool:
    """Whether some job holds the lock right now (health-run's stale-order sweep asks)."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
