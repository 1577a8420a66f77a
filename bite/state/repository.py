"""The only code that writes SQL, one store per aggregate over one connection.

It holds no rule beyond the position state machine (``bite/state/models.py``):
:class:`BookStore` (positions, orders, fills), :class:`HedgeStore` (the hedge's orders
on the perpetual), :class:`JournalStore` (job runs, alerts), :class:`SettingsStore`
(system state, configurations, samples, snapshots, estimates). A job holds one
:class:`Repository`, which is all four.
"""

from __future__ import annotations

import sqlite3

from bite.state.book import BookStore
from bite.state.hedge import HedgeStore
from bite.state.journal import JournalStore
from bite.state.settings import SettingsStore
from bite.state.sql import ANCHOR_KEY, parse_iso_z, to_json

__all__ = ["ANCHOR_KEY", "Repository", "parse_iso_z", "to_json"]


class Repository(BookStore, HedgeStore, JournalStore, SettingsStore):
    """Reads and writes the state database through one connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
