"""The one home of the order label: make it, read it back, tell ours from others'.

An entry order is labelled ``bite-<proposal_id>``, exit attempt k of that position
``bite-<proposal_id>-x<k>`` (docs/operations.md 4), and a hedge order on the perpetual
``bite-h<UTC minute>`` (``bite-h202603021800``; proposal ids are hexadecimal, so never
``h...``); Deribit keeps labels up to 64 characters. Recovery, health's stale-order
sweep, the order guards and the direct connector all read labels here, never by their
text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

PREFIX = "bite-"
MAX_LENGTH = 64
_HEDGE = re.compile(r"^bite-h(\d{12})$")
_LABEL = re.compile(r"^bite-([A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*?)(?:-x(\d+))?$")

OrderKind = Literal["entry", "exit", "hedge"]


@dataclass(frozen=True)
class Label:
    """What a label of ours says: whose order it is, and which."""

    proposal_id: str  # a hedge's: its UTC minute, YYYYmmddHHMM
    kind: OrderKind
    attempt: int  # 0 for the entry and a hedge, k for exit attempt k

    @property
    def directions(self) -> tuple[str, str]:
        """(short leg, long leg): an entry sells the short, an exit buys it back."""
        return ("sell", "buy") if self.kind == "entry" else ("buy", "sell")


def make(proposal_id: str, kind: OrderKind = "entry", attempt: int = 0) -> str:
    """The label of an entry, or of exit attempt ``attempt``; refused past 64 characters."""
    if kind == "hedge":
        raise ValueError("a hedge's label comes from its minute: make_hedge")
    if kind == "exit" and attempt < 1:
        raise ValueError("an exit attempt counts from 1")
    label = f"{PREFIX}{proposal_id}" + (f"-x{attempt}" if kind == "exit" else "")
    if len(label) > MAX_LENGTH:
        raise ValueError(f"label longer than {MAX_LENGTH} characters: {label!r}")
    return label


def make_hedge(minute: datetime) -> str:
    """The label of a hedge order sent in the UTC minute ``minute`` (one a minute at most)."""
    return f"{PREFIX}h{minute:%Y%m%d%H%M}"


def parse(label: str) -> Label | None:
    """Read a label of ours back; None for anyone else's (or a malformed one)."""
    if len(label) > MAX_LENGTH:
        return None
    hedge = _HEDGE.match(label)
    if hedge is not None:
        return Label(hedge.group(1), "hedge", 0)
    match = _LABEL.match(label)
    if match is None:
        return None
    proposal_id, attempt = match.group(1), match.group(2)
    if attempt is None:
        return Label(proposal_id, "entry", 0)
    return Label(proposal_id, "exit", int(attempt))


def is_ours(label: str) -> bool:
    """Whether an order at the broker carries one of our labels."""
    return parse(label) is not None
