"""The SHA-256 hash-chained audit log, ``data/audit.log`` (docs/risk-controls.md 2).

A line's format is in ``audit_record.py``, the walk over the whole chain in
``audit_walk.py``.

Appends take ``data/.audit.lock`` (exclusive), read ``seq`` and ``prev`` from the
log's tail, append with ``O_APPEND`` and ``fsync``, then move the anchor in
SQLite. The boot check reads only the tail: O(1) in the log's size.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from bite.errors import IntegrityError
from bite.safety.audit_record import (
    GENESIS,
    BrokenLineError,
    Record,
    parse_record,
    render,
)
from bite.safety.audit_walk import PARALLEL_MIN_BYTES, walk, walk_parallel

_TAIL_BLOCK = 64 * 1024
_TAIL_FIRST_BLOCK = 2048  # a chain line is a few hundred bytes
_MAX_REANCHOR_LINES = 10_000

LOG_NAME = "audit.log"
LOCK_NAME = ".audit.lock"
BROKEN_PREFIX = "audit.broken-"
VERIFIED_KEY = "audit_verified"  # system_state: the head of backup-run's last full walk


class AnchorStore(Protocol):
    """Where the anchor lives (the repository)."""

    def get_anchor(self) -> tuple[int, str] | None:
        """The (seq, hash) the database last saw."""
        ...

    def set_anchor(self, seq: int, digest: str, now: datetime) -> None:
        """Move the anchor."""
        ...


class AuditChainError(IntegrityError):
    """The chain cannot be appended to: its tail is damaged (exit 4)."""


def read_last_lines(
    path: Path, count: int, *, first_block: int = _TAIL_FIRST_BLOCK
) -> tuple[list[bytes], bool]:
    """Up to ``count`` last lines (oldest first) and whether the file ends with a newline.

    Reads back from the end in blocks, the first of ``first_block`` bytes (a line or two
    of the chain), each next one twice as large up to ``_TAIL_BLOCK``, until it holds
    more than ``count`` newlines or the whole file: the answer does not depend on the
    blocks (a test compares it with a whole-file read)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return [], True
    with handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return [], True
        data = b""
        pos = size
        block = max(first_block, 1)
        while pos > 0 and data.count(b"\n") <= count:
            step = min(block, pos)
            pos -= step
            handle.seek(pos)
            data = handle.read(step) + data
            block = min(block * 2, _TAIL_BLOCK)
    complete = data.endswith(b"\n")
    pieces = data.split(b"\n")
    if complete:
        pieces = pieces[:-1]
    # only the lines asked for are made; when the file was not read whole, the first
    # piece (perhaps the end of an earlier line) is never among them: more than
    # ``count`` newlines were read
    pieces = pieces[-count:] if count > 0 else []
    lines = [piece + b"\n" for piece in pieces]
    if lines and not complete:
        lines[-1] = lines[-1][:-1]
    return lines, complete


@dataclass(frozen=True)
class VerifiedHead:
    """Where the last full walk of the chain ended: health-run checks only what follows."""

    seq: int
    hash: str
    offset: int
    first: str  # the first line's hash: which chain was walked

    def to_dict(self) -> dict[str, Any]:
        """As stored in ``system_state``."""
        return {"seq": self.seq, "hash": self.hash, "offset": self.offset, "first": self.first}

    @classmethod
    def from_dict(cls, data: Any) -> VerifiedHead | None:
        """From ``system_state``; None when absent or not of this shape."""
        try:
            return cls(int(data["seq"]), str(data["hash"]), int(data["offset"]), str(data["first"]))
        except (TypeError, KeyError, ValueError):
            return None


def _witness_problem(path: Path, witness: tuple[int, str], count: int) -> str | None:
    """Whether the verified log holds line ``seq`` with ``hash``; the problem, or None."""
    seq, digest = witness
    if not 1 <= seq <= count:
        return f"the log has no seq {seq} (it ends at {count})"
    with path.open("rb") as handle:
        for _ in range(seq - 1):
            handle.readline()
        found = parse_record(handle.readline())
    if found.hash != digest:
        return f"seq {seq} has hash {found.hash[:16]}..., the witness says {digest[:16]}..."
    return None


@dataclass(frozen=True)
class VerifyReport:
    """What ``bite audit verify`` found."""

    records: int
    ok: bool
    first_bad_seq: int | None
    first_bad_line: int | None
    problem: str | None
    last_seq: int
    last_hash: str
    anchor: tuple[int, str] | None
    anchor_ok: bool
    broken_logs: tuple[str, ...] = field(default=())
    size: int = 0  # the bytes walked: the verified head ends here
    witness_ok: bool | None = None  # None: no witness given
    witness_problem: str | None = None

    @property
    def healthy(self) -> bool:
        """The chain is valid, matches the anchor and any witness, and no set-aside log remains."""
        return self.ok and self.anchor_ok and not self.broken_logs and self.witness_ok is not False


@dataclass(frozen=True)
class BootResult:
    """The outcome of the boot check."""

    outcome: Literal["ok", "reanchored", "mismatch"]
    detail: str
    lines_ahead: int = 0
    set_aside: Path | None = None


class AuditLog:
    """Appends to, reads and verifies the chain in one data directory."""

    def __init__(
        self,
        data_dir: Path,
        anchors: AnchorStore | None,
        secrets: tuple[str, ...] = (),
        *,
        durable: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.durable = durable  # False only for a backtest's throwaway log: no fsync
        self.secrets = tuple(s for s in secrets if s)
        self.path = data_dir / LOG_NAME
        self.lock_path = data_dir / LOCK_NAME
        self.anchors = anchors
        self.on_reset: Callable[[BootResult, datetime], None] | None = None

    @contextmanager
    def locked(self, exclusive: bool) -> Iterator[None]:
        """Hold the audit lock: exclusive to append, shared to read whole lines."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _tail_record(self) -> Record | None:
        lines, complete = read_last_lines(self.path, 1)
        if not lines:
            return None
        if not complete:
            raise AuditChainError(f"{self.path}: the last line is cut short")
        try:
            return parse_record(lines[-1])
        except BrokenLineError as exc:
            raise AuditChainError(f"{self.path}: the last line is broken: {exc}") from None

    def append(
        self, event: str, payload: dict[str, Any], now: datetime, *, trust_tail: bool = False
    ) -> Record:
        """Append one event under the audit lock, then move the anchor.

        First the log's tail is compared with the anchor (O(1)), as the boot check
        does: lines ahead of the anchor that chain onto it are re-anchored; a
        mismatch (a truncated log, a duplicated or edited last line) sets the log
        aside and begins a new chain with ``AUDIT_RESET`` before this event, and
        ``on_reset`` is told (the composition root arms the kill switch).
        ``trust_tail`` skips the comparison: only ``backup restore`` uses it, whose
        restored anchor is older than the log by design.
        """
        reset: BootResult | None = None
        with self.locked(exclusive=True):
            if self.anchors is not None and not trust_tail:
                found = self.inspect_tail()
                if found.outcome == "reanchored":
                    last = parse_record(read_last_lines(self.path, 1)[0][-1])
                    self.anchors.set_anchor(last.seq, last.hash, now)
                elif found.outcome == "mismatch":
                    reset = self._reset_locked(found, now)
            record = self._append_locked(event, payload, now)
        if reset is not None and self.on_reset is not None:
            self.on_reset(reset, now)
        return record

    def _append_locked(self, event: str, payload: dict[str, Any], now: datetime) -> Record:
        """Write one line after the tail and move the anchor (the exclusive lock held)."""
        tail = self._tail_record()
        seq = 1 if tail is None else tail.seq + 1
        prev = GENESIS if tail is None else tail.hash
        line, digest = render(seq, now, event, self._scrub(payload), prev)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(f"short write to {self.path}")
            if self.durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if self.anchors is not None:
            self.anchors.set_anchor(seq, digest, now)
        return Record(seq=seq, hash=digest, prev=prev)

    def _scrub(self, value: Any) -> Any:
        """Replace every known secret inside the payload's strings with ``***``."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {self._scrub(k): self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value

    def tail(self, count: int) -> list[dict[str, Any]]:
        """The last ``count`` records, decoded (under the shared lock)."""
        with self.locked(exclusive=False):
            lines, _ = read_last_lines(self.path, count)
        out = []
        for line in lines[-count:] if count > 0 else []:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"broken_line": line.decode("utf-8", "replace").rstrip("\n")})
        return out

    def broken_logs(self) -> tuple[str, ...]:
        """Set-aside damaged logs still in the data dir."""
        if not self.data_dir.exists():
            return ()
        return tuple(sorted(p.name for p in self.data_dir.glob(f"{BROKEN_PREFIX}*.log")))

    def verify(
        self,
        *,
        parallel_from_bytes: int = PARALLEL_MIN_BYTES,
        witness: tuple[int, str] | None = None,
    ) -> VerifyReport:
        """Walk the whole chain; name the first bad seq; compare the end with the anchor.

        A log of at least ``parallel_from_bytes`` is checked on two cores. A
        ``witness`` (a seq and hash sent outside the machine, e.g. health-run's daily
        Telegram notice) must be in the chain: a log rewritten together with its
        anchor passes every other check but not this one.
        """
        anchor = self.anchors.get_anchor() if self.anchors is not None else None
        count = 0
        expected_seq = 1
        problem: str | None = None
        bad_seq: int | None = None
        bad_line: int | None = None
        last_hash = GENESIS
        size = 0
        witness_ok: bool | None = None
        witness_problem: str | None = None
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            handle = None
        if handle is not None:
            with self.locked(exclusive=False), handle:
                size = os.fstat(handle.fileno()).st_size
                if size >= parallel_from_bytes and (os.cpu_count() or 1) >= 2:
                    walked = walk_parallel(self.path, size)
                else:
                    walked = walk(handle)
                count, last_hash, problem, bad_seq, bad_line = walked
                expected_seq = count + 1
                if witness is not None and problem is None:
                    witness_problem = _witness_problem(self.path, witness, count)
                    witness_ok = witness_problem is None
        elif witness is not None:
            witness_ok, witness_problem = False, "there is no audit log"
        ok = problem is None
        last_seq = expected_seq - 1
        anchor_ok = count == 0 if anchor is None else ok and anchor == (last_seq, last_hash)
        return VerifyReport(
            records=count,
            ok=ok,
            first_bad_seq=bad_seq,
            first_bad_line=bad_line,
            problem=problem,
            last_seq=last_seq,
            last_hash=last_hash,
            anchor=anchor,
            anchor_ok=anchor_ok,
            broken_logs=self.broken_logs(),
            size=size,
            witness_ok=witness_ok,
            witness_problem=witness_problem,
        )

    def first_hash(self) -> str | None:
        """The hash of the log's first line (which chain this is), or None."""
        try:
            with self.path.open("rb") as handle:
                return parse_record(handle.readline()).hash
        except (FileNotFoundError, BrokenLineError):
            return None

    def check_since(self, head: VerifiedHead) -> str | None:
        """Check only the lines appended after a verified head; None when they chain.

        The head is the last line of the last full walk and the byte where it
        ended (backup-run stores it). The line ending there must still be that
        one, and every line after it must chain onto it: the cost is the lines
        appended since the walk, not the log's size. A chain restarted since then
        by ``AUDIT_RESET`` (already alerted, the switch armed) is not checked.
        """
        seq, digest, offset = head.seq, head.hash, head.offset
        with self.locked(exclusive=False):
            try:
                handle = self.path.open("rb")
            except FileNotFoundError:
                return "the audit log is missing"
            with handle:
                try:
                    first = json.loads(handle.readline())
                except json.JSONDecodeError:
                    return "the log's first line is broken"
                if first.get("hash") != head.first:
                    if first.get("event") == "AUDIT_RESET" and first.get("seq") == 1:
                        return None
                    return "the log's first line is not the one verified"
                size = os.fstat(handle.fileno()).st_size
                if size < offset:
                    return f"the log is shorter ({size} bytes) than when it was verified ({offset})"
                start = max(0, offset - _TAIL_BLOCK)
                handle.seek(start)
                before = handle.read(offset - start)
                if not before.endswith(b"\n"):
                    return f"no line ends where seq {seq} ended (byte {offset})"
                last_line = before[:-1].rsplit(b"\n", 1)[-1] + b"\n"
                try:
                    found = parse_record(last_line)
                except BrokenLineError as exc:
                    return f"the verified line seq {seq} is now broken: {exc}"
                if (found.seq, found.hash) != (seq, digest):
                    return f"the verified line seq {seq} was changed"
                handle.seek(offset)
                _, _, problem, bad_seq, _ = walk(handle, None, digest, seq + 1)
        return None if problem is None else f"seq {bad_seq}: {problem}"

    def inspect_tail(self) -> BootResult:
        """Compare the tail with the anchor without changing anything."""
        anchor = self.anchors.get_anchor() if self.anchors is not None else None
        lines, complete = read_last_lines(self.path, 2)
        if not lines:
            if anchor is None:
                return BootResult("ok", "no audit log yet")
            return BootResult("mismatch", f"the log is empty but the anchor is seq {anchor[0]}")
        if not complete:
            return BootResult("mismatch", "the last line is cut short")
        try:
            last = parse_record(lines[-1])
            before = parse_record(lines[0]) if len(lines) == 2 else None
        except BrokenLineError as exc:
            return BootResult("mismatch", f"a line at the end is broken: {exc}")
        if before is not None and (last.seq != before.seq + 1 or last.prev != before.hash):
            return BootResult(
                "mismatch", f"the last two lines do not chain (seq {before.seq}, then {last.seq})"
            )
        if before is None and last.seq != 1:
            return BootResult("mismatch", f"the log's only line is seq {last.seq}, not 1")
        if anchor is None:
            return BootResult("mismatch", "the log has lines but the database has no anchor")
        anchor_seq = anchor[0]
        if (last.seq, last.hash) == anchor:
            return BootResult("ok", f"anchor at seq {anchor_seq}")
        ahead = last.seq - anchor_seq
        if ahead <= 0 or ahead > _MAX_REANCHOR_LINES:
            return BootResult(
                "mismatch", f"the log ends at seq {last.seq}, the anchor is seq {anchor_seq}"
            )
        window, _ = read_last_lines(self.path, ahead + 1)
        if len(window) < ahead + 1:
            return BootResult("mismatch", "the log is shorter than the anchor")
        try:
            records = [parse_record(line) for line in window[-(ahead + 1) :]]
        except BrokenLineError as exc:
            return BootResult("mismatch", f"a line after the anchor is broken: {exc}")
        first = records[0]
        if (first.seq, first.hash) != anchor:
            return BootResult(
                "mismatch",
                f"the line at the anchor's place is not the anchored one (seq {first.seq})",
            )
        for before, after in itertools.pairwise(records):
            if after.seq != before.seq + 1 or after.prev != before.hash:
                return BootResult("mismatch", f"the chain breaks after seq {before.seq}")
        return BootResult(
            "reanchored", f"{ahead} valid line(s) after the anchor", lines_ahead=ahead
        )

    def boot_check(self, now: datetime, *, dry_run: bool) -> BootResult:
        """The boot check: fine, re-anchor, or set the damaged log aside and restart the chain.

        A dry run only reports what it would do. On a mismatch the caller arms the
        kill switch (integrity, ``audit_mismatch``); the arming lands in the new chain.
        """
        with self.locked(exclusive=False):
            result = self.inspect_tail()
        if dry_run or result.outcome == "ok":
            return result
        with self.locked(exclusive=True):
            result = self.inspect_tail()  # the tail may have moved between the locks
            if result.outcome == "reanchored":
                last = parse_record(read_last_lines(self.path, 1)[0][-1])
                if self.anchors is not None:
                    self.anchors.set_anchor(last.seq, last.hash, now)
                return result
            if result.outcome == "ok":
                return result
            return self._reset_locked(result, now)

    def _reset_locked(self, result: BootResult, now: datetime) -> BootResult:
        """Set the damaged log aside and begin a new chain with ``AUDIT_RESET`` (lock held)."""
        anchor = self.anchors.get_anchor() if self.anchors is not None else None
        aside: Path | None = None
        if self.path.exists():
            aside = self.data_dir / f"{BROKEN_PREFIX}{now.strftime('%Y%m%dT%H%M%S%fZ')}.log"
            n = 1
            while aside.exists():  # two resets within a microsecond keep both logs
                n += 1
                aside = aside.with_name(f"{aside.stem}-{n}.log")
            os.replace(self.path, aside)
        line, digest = render(
            1,
            now,
            "AUDIT_RESET",
            {
                "old_anchor_seq": anchor[0] if anchor else None,
                "old_anchor_hash": anchor[1] if anchor else None,
                "reason": result.detail,
                "set_aside": aside.name if aside else None,
            },
            GENESIS,
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.anchors is not None:
            self.anchors.set_anchor(1, digest, now)
        return BootResult("mismatch", result.detail, set_aside=aside)
