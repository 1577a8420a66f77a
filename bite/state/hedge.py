"""The hedge's orders on the perpetual: written before each send, reconciled after."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from bite.clock import iso_z
from bite.state.db import transaction
from bite.state.sql import Store, dec

HedgeOrderState = Literal["pending", "open", "filled", "rejected", "cancelled", "unknown"]
UNSETTLED: tuple[HedgeOrderState, ...] = ("pending", "open", "unknown")


@dataclass(frozen=True)
class HedgeOrderRow:
    """One hedge order as SQLite keeps it."""

    id: int
    label: str
    instrument_name: str
    side: str
    amount: int
    price: Decimal
    target_usd: Decimal
    reason: str
    broker_order_id: str | None
    state: HedgeOrderState
    filled_amount: int
    average_price: Decimal | None
    fee_eth: Decimal
    created_at: str
    updated_at: str


class HedgeStore(Store):
    """The hedge's orders."""

    def insert_hedge_order(
        self,
        label: str,
        instrument_name: str,
        side: str,
        amount: int,
        price: Decimal,
        target_usd: Decimal,
        reason: str,
        now: datetime,
    ) -> int:
        """The row of an order about to be sent (``pending``); its id."""
        with transaction(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO hedge_orders (label, instrument_name, side, amount, price,"
                " target_usd, reason, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    label,
                    instrument_name,
                    side,
                    amount,
                    str(price),
                    str(target_usd),
                    reason,
                    iso_z(now),
                    iso_z(now),
                ),
            )
        return int(cursor.lastrowid or 0)

    def update_hedge_order(
        self,
        order_id: int,
        now: datetime,
        *,
        state: HedgeOrderState,
        broker_order_id: str | None,
        filled_amount: int,
        average_price: Decimal | None,
        fee_eth: Decimal,
    ) -> None:
        """What the broker said of the order."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE hedge_orders SET state = ?, broker_order_id = ?, filled_amount = ?,"
                " average_price = ?, fee_eth = ?, updated_at = ? WHERE id = ?",
                (
                    state,
                    broker_order_id,
                    filled_amount,
                    None if average_price is None else str(average_price),
                    str(fee_eth),
                    iso_z(now),
                    order_id,
                ),
            )

    def hedge_orders(
        self, states: tuple[HedgeOrderState, ...] | None = None, count: int = 1000
    ) -> list[HedgeOrderRow]:
        """Hedge orders, newest first (of ``states`` when given)."""
        sql = "SELECT * FROM hedge_orders"
        args: tuple[object, ...] = ()
        if states is not None:
            sql += f" WHERE state IN ({', '.join('?' for _ in states)})"
            args = tuple(states)
        rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, count)).fetchall()
        return [_hedge_order(r) for r in rows]

    def hedge_order_by_label(self, label: str) -> HedgeOrderRow | None:
        """The hedge order of ``label``, if any."""
        row = self.conn.execute("SELECT * FROM hedge_orders WHERE label = ?", (label,)).fetchone()
        return None if row is None else _hedge_order(row)

    def hedge_fees_eth(self) -> Decimal:
        """Every hedge order's fees so far (ETH)."""
        rows = self.conn.execute("SELECT fee_eth FROM hedge_orders").fetchall()
        return sum((Decimal(r["fee_eth"]) for r in rows), Decimal(0))


def _hedge_order(r: sqlite3.Row) -> HedgeOrderRow:
    return HedgeOrderRow(
        id=int(r["id"]),
        label=r["label"],
        instrument_name=r["instrument_name"],
        side=r["side"],
        amount=int(r["amount"]),
        price=Decimal(r["price"]),
        target_usd=Decimal(r["target_usd"]),
        reason=r["reason"],
        broker_order_id=r["broker_order_id"],
        state=r["state"],
        filled_amount=int(r["filled_amount"]),
        average_price=dec(r["average_price"]),
        fee_eth=Decimal(r["fee_eth"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )
