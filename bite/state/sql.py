"""What every store of the state database shares: its text forms of times, numbers, JSON."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from bite.clock import iso_z, parse_instant

ANCHOR_KEY = "audit_anchor"


def parse_iso_z(text: str) -> datetime:
    """A stored time back as a UTC datetime."""
    return parse_instant(text)


def dec(value: Any) -> Decimal | None:
    """A stored number back as a Decimal (None stays None)."""
    return None if value is None else Decimal(str(value))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso_z(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# one encoder for every column (json.dumps with options builds a new one at each call)
_ENCODER = json.JSONEncoder(default=_json_default, sort_keys=True, separators=(",", ":"))


def to_json(value: Any) -> str:
    """JSON text for a column: Decimals as strings, datetimes in the audit format."""
    return _ENCODER.encode(value)


class Store:
    """One aggregate's reads and writes, on the connection all stores share."""

    conn: sqlite3.Connection
