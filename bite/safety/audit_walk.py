"""Walking the audit chain: every line's seq, prev and hash, fast, on one or two cores.

The hot path compares one slice of each line against the expected ``prev`` and
``seq`` and hashes the bytes before the hash field; only a failing line is parsed
in full to say what is wrong with it. A large log is split at a line and each half
walked by its own process, then the join between them is checked.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

from bite.safety.audit_record import (
    GENESIS,
    HASH_OPEN,
    SUFFIX_LEN,
    BrokenLineError,
    parse_record,
)

_CHUNK = 8 * 1024 * 1024
_TS_AND_QUOTE = 28  # the 27-character ts and its closing quote


WalkResult = tuple[int, str, str | None, int | None, int | None]
PARALLEL_MIN_BYTES = 32 * 1024 * 1024


def walk(
    handle: BinaryIO, stop_at: int | None = None, prev_hex: str = GENESIS, first_seq: int = 1
) -> WalkResult:
    """Check lines from the handle's position: (records, last hash, problem, bad seq, bad line).

    The hot path compares one slice against the expected ``prev`` and ``seq`` and
    hashes the bytes before the hash field; only a failing line is parsed in full
    to say what is wrong with it. ``stop_at`` ends the walk at a byte offset.
    """
    sha256 = hashlib.sha256
    hash_open = HASH_OPEN
    closing = b"}"
    fixed = SUFFIX_LEN + _TS_AND_QUOTE
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
                and line.startswith(hash_open, n - SUFFIX_LEN)
                and line.endswith(b'"}')
            ):
                return _explain(line, seq, first_seq, prev.decode("ascii"))
            h = sha256(line[: n - SUFFIX_LEN])
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
        return rec.seq, rec.prev, walk(handle, stop, rec.prev, rec.seq)


def walk_parallel(path: Path, size: int) -> WalkResult:
    """Verify a large log on two cores: each half on its own, then the join between them."""
    with path.open("rb") as handle:
        handle.seek(size // 2)
        handle.readline()
        middle = handle.tell()
    if middle >= size:
        with path.open("rb") as handle:
            return walk(handle)
    import multiprocessing  # noqa: PLC0415 - only a long log's walk needs it (a job's start)

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        second = pool.apply_async(_walk_segment, (str(path), middle, None))
        with path.open("rb") as handle:
            first = walk(handle, middle)
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
