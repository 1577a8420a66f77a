"""Helpers for tests of the state and safety layers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bite.context import StateContext, open_state


class MemoryAnchors:
    """An anchor store in memory, for audit tests that need no database."""

    def __init__(self) -> None:
        self.anchor: tuple[int, str] | None = None

    def get_anchor(self) -> tuple[int, str] | None:
        return self.anchor

    def set_anchor(self, seq: int, digest: str, now: datetime) -> None:
        self.anchor = (seq, digest)


def fresh_state(data_dir: Path) -> StateContext:
    """Open (creating) the state of a data dir."""
    return open_state(data_dir)
