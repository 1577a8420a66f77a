"""The SHA-256 hash-chained audit log, ``data/audit.log`` (risk-controls.md 2).

Each line is the canonical JSON of ``{seq, ts, event, payload, prev}`` (sorted
keys, no spaces, UTF-8, no NaN) with ``,"hash":"<sha256>"`` inserted before the
final ``}``. The hash is the SHA-256 of the canonical text, so a verifier hashes
the bytes before the hash field without parsing. ``prev`` links each line to the
one before; the first line's ``prev`` is 64 zeros.

Appends take ``data/.audit.lock`` (exclusive), read ``seq`` and ``prev`` from the
log's tail, append with ``O_APPEND`` and ``fsync``, then move the anchor in
SQLite. The boot check reads only the tail: O(1) in the log's size.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from bite.clock import iso_z

GENESIS = "0" * 64
_HASH_OPEN = b',"hash":"'
_SUFFIX_LEN = len(_HASH_OPEN) + 64 + 2  # ,"hash":"<64 hex>"}
_TS_TAIL_LEN = len(b'"ts":"2026-01-01T00:00:00.000000Z"}')
_SEQ_KEY = b',"seq":'
_PREV_KEY = b'"prev":"'
_TAIL_BLOCK = 64 * 1024
_MAX_REANCHOR_LINES = 10_000

LOG_NAME = "audit.log"
LOCK_NAME = ".audit.lock"
BROKEN_PREFIX = "audit.broken-"


class AnchorStore(Protocol):
    """Where the anchor lives (the repository)."""

    def get_anchor(self) -> tuple[int, str] | None:
        """The (seq, hash) the database last saw."""
        ...

    def set_anchor(self, seq: int, digest: str, now: datetime) -> None:
        """Move the anchor."""
        ...


class AuditChainError(Exception):
    """The chain cannot be appended to: its tail is damaged."""


class BrokenLineError(ValueError):
    """One line is not a valid audit record."""


@dataclass(frozen=True)
class Record:
    """What a line says about its place in the chain."""

    seq: int
    hash: str
    prev: str


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"audit payload value not serializable: {type(value).__name__}")


def canonical(seq: int, ts: datetime, event: str, payload: dict[str, Any], prev: str) -> bytes:
    """The canonical text that is hashed (UTF-8 bytes)."""
    text = json.dumps(
        {"seq": seq, "ts": iso_z(ts), "event": event, "payload": payload, "prev": prev},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    )
    return text.encode("utf-8")


def render(
    seq: int, ts: datetime, event: str, payload: dict[str, Any], prev: str
) -> tuple[bytes, str]:
    """The line to append (with its newline) and its hash."""
    body = canonical(seq, ts, event, payload, prev)
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + _HASH_OPEN + digest.encode("ascii") + b'"}\n', digest


def parse_record(line: bytes) -> Record:
    """Check one line's own hash and read its seq, hash and prev; raise when broken."""
    raw = line[:-1] if line.endswith(b"\n") else line
    if (
        len(raw) < _SUFFIX_LEN + _TS_TAIL_LEN
        or not raw.endswith(b'"}')
        or raw[-_SUFFIX_LEN : -_SUFFIX_LEN + len(_HASH_OPEN)] != _HASH_OPEN
    ):
        raise BrokenLineError("not an audit line (no trailing hash field)")
    digest = raw[-66:-2]
    body = raw[:-_SUFFIX_LEN] + b"}"
    if hashlib.sha256(body).hexdigest().encode("ascii") != digest:
        raise BrokenLineError("hash does not match the line")
    head = body[:-_TS_TAIL_LEN]
    seq_at = head.rfind(_SEQ_KEY)
    if seq_at < 72 or head[seq_at - 73 : seq_at - 65] != _PREV_KEY:
        raise BrokenLineError("seq or prev missing")
    try:
        seq = int(head[seq_at + len(_SEQ_KEY) : -1])
    except ValueError:
        raise BrokenLineError("seq is not a number") from None
    prev = head[seq_at - 65 : seq_at - 1].decode("ascii", "replace")
    return Record(seq=seq, hash=digest.decode("ascii"), prev=prev)


def read_last_lines(path: Path, count: int) -> tuple[list[bytes], bool]:
    """Up to ``count`` last lines (oldest first) and whether the file ends with a newline."""
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
        while pos > 0 and data.count(b"\n") <= count:
            step = min(_TAIL_BLOCK, pos)
            pos -= step
            handle.seek(pos)
            data = handle.read(step) + data
    complete = data.endswith(b"\n")
    pieces = data.split(b"\n")
    if complete:
        pieces = pieces[:-1]
    if pos > 0:
        pieces = pieces[1:]  # the first piece may be the end of an earlier line
    lines = [piece + b"\n" for piece in pieces]
    if lines and not complete:
        lines[-1] = lines[-1][:-1]
    return (lines[-count:] if count > 0 else []), complete


_CHUNK = 8 * 1024 * 1024
_TS_AND_QUOTE = 28  # the 27-character ts and its closing quote


WalkResult = tuple[int, str, str | None, int | None, int | None]
_PARALLEL_MIN_BYTES = 32 * 1024 * 1024


def _walk(
    handle: BinaryIO, stop_at: int | None = None, prev_hex: str = GENESIS, first_seq: int = 1
) -> WalkResult:
    """Check lines from the handle's position: (records, last hash, problem, bad seq, bad line).

    The hot path compares one slice against the expected ``prev`` and ``seq`` and
    hashes the bytes before the hash field; only a failing line is parsed in full
    to say what is wrong with it. ``stop_at`` ends the walk at a byte offset.
    """
    sha256 = hashlib.sha256
    hash_open = _HASH_OPEN
    closing = b"}"
    fixed = _SUFFIX_LEN + _TS_AND_QUOTE
    prev = prev_hex.encode("ascii")
    seq = first_seq
    carry = b""
    left = -1 if stop_at is None else stop_at - handle.tell()
    while left != 0:
        chunk = handle.read(_CHUNK if left < 0 else min(_CHUNK, left))
        if not chunk:
            break
        if left > 0:
            left -= len(chunk)
        lines = (carry + chunk).split(b"\n")
        carry = lines.pop()
        for line in lines:
            n = len(line)
            marker = b'"prev":"%s","seq":%d,"ts":"' % (prev, seq)
            if not (
                line.startswith(marker, n - fixed - len(marker))
                and line.startswith(hash_open, n - _SUFFIX_LEN)
                and line.endswith(b'"}')
            ):
                return _explain(line, seq, first_seq, prev.decode("ascii"))
            h = sha256(line[: n - _SUFFIX_LEN])
            h.update(closing)
            digest = h.hexdigest().encode("ascii")
            if not line.startswith(digest, n - 66):
                done = seq - first_seq
                return done, prev.decode("ascii"), "hash does not match the line", seq, seq
            prev = digest
            seq += 1
    done = seq - first_seq
    if carry:
        return done, prev.decode("ascii"), "the last line is cut short", seq, seq
    return done, prev.decode("ascii"), None, None, None


def _walk_segment(path: str, start: int, stop: int | None) -> tuple[int, str, WalkResult]:
    """Walk one byte range beginning at a line: (its first seq, its first prev, the result)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        first = handle.readline()
        try:
            rec = parse_record(first)
        except BrokenLineError as exc:
            return 0, GENESIS, (0, GENESIS, str(exc), None, None)
        handle.seek(start)
        return rec.seq, rec.prev, _walk(handle, stop, rec.prev, rec.seq)


def _walk_parallel(path: Path, size: int) -> WalkResult:
    """Verify a large log on two cores: each half on its own, then the join between them."""
    with path.open("rb") as handle:
        handle.seek(size // 2)
        handle.readline()
        middle = handle.tell()
    if middle >= size:
        with path.open("rb") as handle:
            return _walk(handle)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        second = pool.apply_async(_walk_segment, (str(path), middle, None))
        with path.open("rb") as handle:
            first = _walk(handle, middle)
        first_seq, first_prev, rest = second.get()
    count, last, problem = first[0], first[1], first[2]
    if problem is not None:
        return first
    if rest[2] is not None and rest[3] is None:  # the second half's first line is broken
        return count, last, rest[2], count + 1, count + 1
    if first_seq != count + 1:
        return count, last, f"seq {first_seq} where {count + 1} was expected", count + 1, count + 1
    if first_prev != last:
        return count, last, "prev does not match the previous line's hash", count + 1, count + 1
    return count + rest[0], rest[1], rest[2], rest[3], rest[4]


def _explain(line: bytes, seq: int, first_seq: int, prev: str) -> WalkResult:
    """Say what is wrong with the line where the chain broke."""
    done = seq - first_seq
    try:
        rec = parse_record(line)
    except BrokenLineError as exc:
        return done, prev, str(exc), seq, seq
    if rec.seq != seq:
        return done, prev, f"seq {rec.seq} where {seq} was expected", seq, seq
    return done, prev, "prev does not match the previous line's hash", rec.seq, seq


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

    @property
    def healthy(self) -> bool:
        """The chain is valid, matches the anchor, and no set-aside log remains."""
        return self.ok and self.anchor_ok and not self.broken_logs


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
        self, data_dir: Path, anchors: AnchorStore | None, secrets: tuple[str, ...] = ()
    ) -> None:
        self.data_dir = data_dir
        self.secrets = tuple(s for s in secrets if s)
        self.path = data_dir / LOG_NAME
        self.lock_path = data_dir / LOCK_NAME
        self.anchors = anchors

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

    def append(self, event: str, payload: dict[str, Any], now: datetime) -> Record:
        """Append one event under the audit lock, then move the anchor."""
        with self.locked(exclusive=True):
            tail = self._tail_record()
            seq = 1 if tail is None else tail.seq + 1
            prev = GENESIS if tail is None else tail.hash
            line, digest = render(seq, now, event, self._scrub(payload), prev)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(f"short write to {self.path}")
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

    def verify(self, *, parallel_from_bytes: int = _PARALLEL_MIN_BYTES) -> VerifyReport:
        """Walk the whole chain; name the first bad seq; compare the end with the anchor.

        A log of at least ``parallel_from_bytes`` is checked on two cores.
        """
        anchor = self.anchors.get_anchor() if self.anchors is not None else None
        count = 0
        expected_seq = 1
        problem: str | None = None
        bad_seq: int | None = None
        bad_line: int | None = None
        last_hash = GENESIS
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            handle = None
        if handle is not None:
            with self.locked(exclusive=False), handle:
                size = os.fstat(handle.fileno()).st_size
                if size >= parallel_from_bytes and (os.cpu_count() or 1) >= 2:
                    walked = _walk_parallel(self.path, size)
                else:
                    walked = _walk(handle)
                count, last_hash, problem, bad_seq, bad_line = walked
                expected_seq = count + 1
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
        )

    def inspect_tail(self) -> BootResult:
        """Compare the tail with the anchor without changing anything."""
        anchor = self.anchors.get_anchor() if self.anchors is not None else None
        lines, complete = read_last_lines(self.path, 1)
        if not lines:
            if anchor is None:
                return BootResult("ok", "no audit log yet")
            return BootResult("mismatch", f"the log is empty but the anchor is seq {anchor[0]}")
        if not complete:
            return BootResult("mismatch", "the last line is cut short")
        try:
            last = parse_record(lines[-1])
        except BrokenLineError as exc:
            return BootResult("mismatch", f"the last line is broken: {exc}")
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
            anchor = self.anchors.get_anchor() if self.anchors is not None else None
            aside: Path | None = None
            if self.path.exists():
                aside = self.data_dir / f"{BROKEN_PREFIX}{now.strftime('%Y%m%dT%H%M%S%fZ')}.log"
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
