"""One audit line: its canonical text, its hash, and reading it back (docs/risk-controls.md 2).

Each line is the canonical JSON of ``{seq, ts, event, payload, prev}`` (sorted
keys, no spaces, UTF-8, no NaN) with ``,"hash":"<sha256>"`` inserted before the
final ``}``. The hash is the SHA-256 of the canonical text, so a verifier hashes
the bytes before the hash field without parsing. ``prev`` links each line to the
one before; the first line's ``prev`` is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bite.clock import iso_z

GENESIS = "0" * 64
HASH_OPEN = b',"hash":"'
SUFFIX_LEN = len(HASH_OPEN) + 64 + 2  # ,"hash":"<64 hex>"}
_TS_TAIL_LEN = len(b'"ts":"2026-01-01T00:00:00.000000Z"}')
_SEQ_KEY = b',"seq":'
_PREV_KEY = b'"prev":"'


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


# the canonical form's one encoder (json.dumps with options builds a new one at each call)
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def canonical(seq: int, ts: datetime, event: str, payload: dict[str, Any], prev: str) -> bytes:
    """The canonical text that is hashed (UTF-8 bytes)."""
    text = _CANONICAL.encode(
        {"seq": seq, "ts": iso_z(ts), "event": event, "payload": payload, "prev": prev}
    )
    return text.encode("utf-8")


def render(
    seq: int, ts: datetime, event: str, payload: dict[str, Any], prev: str
) -> tuple[bytes, str]:
    """The line to append (with its newline) and its hash."""
    body = canonical(seq, ts, event, payload, prev)
    digest = hashlib.sha256(body).hexdigest()
    return body[:-1] + HASH_OPEN + digest.encode("ascii") + b'"}\n', digest


def parse_record(line: bytes) -> Record:
    """Check one line's own hash and read its seq, hash and prev; raise when broken."""
    raw = line[:-1] if line.endswith(b"\n") else line
    if (
        len(raw) < SUFFIX_LEN + _TS_TAIL_LEN
        or not raw.endswith(b'"}')
        or raw[-SUFFIX_LEN : -SUFFIX_LEN + len(HASH_OPEN)] != HASH_OPEN
    ):
        raise BrokenLineError("not an audit line (no trailing hash field)")
    digest = raw[-66:-2]
    body = raw[:-SUFFIX_LEN] + b"}"
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
