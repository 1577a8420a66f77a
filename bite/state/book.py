"""The book: positions, their orders and fills (the position state machine lives here)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from bite.clock import iso_z
from bite.core.booking import sizing_loss_opened
from bite.core.types import ComboProposal, TradeOutcome
from bite.state.db import transaction
from bite.state.models import (
    NewFill,
    OrderRow,
    PositionRow,
    check_transition,
)
from bite.state.sql import Store, dec, parse_iso_z, to_json


class BookStore(Store):
    """Positions, orders and fills."""

    # -- positions --------------------------------------------------------------------------

    def insert_proposed(
        self,
        proposal: ComboProposal,
        *,
        sizing_loss_eur: Decimal,
        dvol_at_entry: float,
        sample_id: int | None,
    ) -> None:
        """Store a new position in ``proposed``, before anything is sent."""
        now = iso_z(proposal.created_at)
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO positions (id, status, spread_type, short_instrument,"
                " long_instrument, short_strike, long_strike, expiry, contracts,"
                " contracts_proposed, entry_credit_eth, entry_credit_usd, entry_credit_eur,"
                " width_usd, max_loss_usd, sizing_loss_usd, sizing_loss_eur, spot_at_entry,"
                " dvol_at_entry, greeks_at_entry, proposal, sample_id, created_at, updated_at)"
                " VALUES (?, 'proposed', ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?)",
                (
                    proposal.proposal_id,
                    proposal.spread_type,
                    proposal.short.instrument_name,
                    proposal.long.instrument_name,
                    str(proposal.short.strike),
                    str(proposal.long.strike),
                    iso_z(proposal.expiry),
                    proposal.contracts,
                    str(proposal.credit_eth),
                    str(proposal.credit_usd),
                    str(proposal.credit_eur),
                    str(proposal.width_usd),
                    str(proposal.max_loss_usd),
                    str(proposal.sizing_loss_usd),
                    str(sizing_loss_eur),
                    str(proposal.spot),
                    dvol_at_entry,
                    to_json(asdict(proposal.greeks)),
                    to_json(asdict(proposal)),
                    sample_id,
                    now,
                    now,
                ),
            )

    def get_position(self, position_id: str) -> PositionRow | None:
        """One position, or None."""
        row = self.conn.execute("SELECT * FROM positions WHERE id = ?", (position_id,)).fetchone()
        return None if row is None else self._position(row)

    def positions(self, statuses: Iterable[str] | None = None) -> list[PositionRow]:
        """Positions in the given statuses (all when None), oldest first."""
        if statuses is None:
            rows = self.conn.execute("SELECT * FROM positions ORDER BY created_at").fetchall()
        else:
            wanted = list(statuses)
            marks = ",".join("?" * len(wanted))
            rows = self.conn.execute(
                f"SELECT * FROM positions WHERE status IN ({marks}) ORDER BY created_at",  # noqa: S608
                wanted,
            ).fetchall()
        return [self._position(r) for r in rows]

    _POSITION_FIELDS = frozenset(
        {
            "contracts",
            "entry_credit_eth",
            "entry_credit_usd",
            "entry_credit_eur",
            "close_reason",
            "close_debit_eth",
            "realized_pnl_eth",
            "realized_pnl_usd",
            "realized_pnl_eur",
            "fees_eth",
            "r_multiple",
            "equity_eur_at_close",
            "max_loss_usd",
            "breakeven_usd",
            "exit_pending_rule",
            "exit_pending_since",
            "opened_at",
            "closed_at",
        }
    )

    def transition(
        self, position_id: str, target: str, now: datetime, **fields: Any
    ) -> PositionRow:
        """Move a position along the state machine and set fields; illegal moves write nothing."""
        unknown = set(fields) - self._POSITION_FIELDS
        if unknown:
            raise ValueError(f"not a position field: {sorted(unknown)}")
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT status FROM positions WHERE id = ?", (position_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no position {position_id}")
            check_transition(position_id, row["status"], target)
            values = {
                k: (
                    str(v) if isinstance(v, Decimal) else iso_z(v) if isinstance(v, datetime) else v
                )
                for k, v in fields.items()
            }
            sets = ", ".join(f"{k} = ?" for k in values)
            sql = "UPDATE positions SET status = ?, updated_at = ?"
            if sets:
                sql += ", " + sets
            self.conn.execute(
                sql + " WHERE id = ?", (target, iso_z(now), *values.values(), position_id)
            )
        position = self.get_position(position_id)
        if position is None:  # pragma: no cover - the row was read in the transaction
            raise KeyError(f"no position {position_id}")
        return position

    def set_exit_pending(self, position_id: str, rule: str | None, now: datetime) -> None:
        """Mark (or clear, with None) a risk exit left for the next run; no status change."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE positions SET exit_pending_rule = ?, exit_pending_since = CASE"
                " WHEN ? IS NULL THEN NULL ELSE COALESCE(exit_pending_since, ?) END,"
                " updated_at = ? WHERE id = ?",
                (rule, rule, iso_z(now), iso_z(now), position_id),
            )

    def set_evaluation(
        self, position_id: str, action: str, numbers: dict[str, Any], now: datetime
    ) -> None:
        """Keep monitor-run's last evaluation of a position (it replaces the one before)."""
        self.conn.execute(
            "INSERT INTO position_evaluations (position_id, evaluated_at, action, numbers)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(position_id) DO UPDATE SET"
            " evaluated_at = excluded.evaluated_at, action = excluded.action,"
            " numbers = excluded.numbers",
            (position_id, iso_z(now), action, json.dumps(numbers, sort_keys=True)),
        )

    def last_evaluation(self, position_id: str) -> tuple[str, str, dict[str, Any]] | None:
        """(evaluated_at, action, numbers) of the last evaluation, or None."""
        row = self.conn.execute(
            "SELECT evaluated_at, action, numbers FROM position_evaluations WHERE position_id = ?",
            (position_id,),
        ).fetchone()
        if row is None:
            return None
        numbers: dict[str, Any] = json.loads(row["numbers"])
        return str(row["evaluated_at"]), str(row["action"]), numbers

    @staticmethod
    def _position(row: sqlite3.Row) -> PositionRow:
        return PositionRow(
            id=row["id"],
            status=row["status"],
            spread_type=row["spread_type"],
            short_instrument=row["short_instrument"],
            long_instrument=row["long_instrument"],
            short_strike=Decimal(row["short_strike"]),
            long_strike=Decimal(row["long_strike"]),
            expiry=row["expiry"],
            contracts=row["contracts"],
            contracts_proposed=row["contracts_proposed"],
            entry_credit_eth=dec(row["entry_credit_eth"]),
            width_usd=Decimal(row["width_usd"]),
            max_loss_usd=Decimal(row["max_loss_usd"]),
            sizing_loss_usd=Decimal(row["sizing_loss_usd"]),
            sizing_loss_eur=Decimal(row["sizing_loss_eur"]),
            spot_at_entry=Decimal(row["spot_at_entry"]),
            dvol_at_entry=row["dvol_at_entry"],
            realized_pnl_eth=Decimal(row["realized_pnl_eth"]),
            realized_pnl_eur=Decimal(row["realized_pnl_eur"]),
            fees_eth=Decimal(row["fees_eth"]),
            r_multiple=row["r_multiple"],
            close_reason=row["close_reason"],
            created_at=row["created_at"],
            opened_at=row["opened_at"],
            closed_at=row["closed_at"],
            sample_id=row["sample_id"],
            breakeven_usd=dec(row["breakeven_usd"]),
            exit_pending_rule=row["exit_pending_rule"],
            exit_pending_since=row["exit_pending_since"],
        )

    def closed_trades(self) -> list[TradeOutcome]:
        """Closed and expired positions with a realized R, as the Kelly estimate needs them.

        The sizing loss is that of the contracts that opened (R's one definition,
        ``core.booking``). A trade whose equity at close is unknown carries the last
        known equity (the first known, before any): the drawdown never reads 0.
        """
        rows = self.conn.execute(
            "SELECT p.closed_at, p.realized_pnl_eur, p.sizing_loss_eur, p.equity_eur_at_close,"
            " p.contracts_proposed, (SELECT COALESCE(SUM(o.filled_amount), 0) FROM orders o"
            " WHERE o.position_id = p.id AND o.kind = 'entry') AS opened"
            " FROM positions p WHERE p.status IN ('closed', 'expired')"
            " AND p.closed_at IS NOT NULL AND p.r_multiple IS NOT NULL ORDER BY p.closed_at"
        ).fetchall()
        known = [Decimal(r["equity_eur_at_close"]) for r in rows if r["equity_eur_at_close"]]
        last_equity = known[0] if known else Decimal(0)
        out = []
        for row in rows:
            opened = int(row["opened"]) or int(row["contracts_proposed"])
            loss = sizing_loss_opened(
                Decimal(row["sizing_loss_eur"]), int(row["contracts_proposed"]), opened
            )
            if row["equity_eur_at_close"]:
                last_equity = Decimal(row["equity_eur_at_close"])
            if loss <= 0:
                continue
            out.append(
                TradeOutcome(
                    closed_at=parse_iso_z(row["closed_at"]),
                    pnl_eur=Decimal(row["realized_pnl_eur"]),
                    sizing_loss_eur=loss,
                    equity_eur_after=last_equity,
                )
            )
        return out

    def proposal_of(self, position_id: str) -> dict[str, Any]:
        """The stored proposal of a position (decoded JSON)."""
        row = self.conn.execute(
            "SELECT proposal FROM positions WHERE id = ?", (position_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no position {position_id}")
        data: dict[str, Any] = json.loads(row["proposal"])
        return data

    # -- orders and fills -------------------------------------------------------------------

    def insert_order(
        self,
        *,
        position_id: str,
        kind: str,
        attempt: int,
        label: str,
        legs: list[dict[str, Any]],
        side: str,
        amount: int,
        ladder: Iterable[Decimal],
        price: Decimal,
        now: datetime,
    ) -> int:
        """Store an order in ``pending`` before it is sent; the label is unique."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO orders (position_id, kind, attempt, label, legs, side, amount,"
                " ladder, price, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    position_id,
                    kind,
                    attempt,
                    label,
                    to_json(legs),
                    side,
                    amount,
                    to_json([str(p) for p in ladder]),
                    str(price),
                    iso_z(now),
                    iso_z(now),
                ),
            )
            return int(cur.lastrowid or 0)

    _ORDER_FIELDS = frozenset(
        {"broker_order_id", "state", "filled_amount", "average_price", "price", "reject_reason"}
    )

    def update_order(self, order_id: int, now: datetime, **fields: Any) -> OrderRow:
        """Record what the broker said about an order."""
        unknown = set(fields) - self._ORDER_FIELDS
        if unknown:
            raise ValueError(f"not an order field: {sorted(unknown)}")
        values = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        with transaction(self.conn):
            self.conn.execute(
                f"UPDATE orders SET {sets}, updated_at = ? WHERE id = ?",  # noqa: S608
                (*values.values(), iso_z(now), order_id),
            )
        order = self.get_order(order_id)
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

    def get_order(self, order_id: int) -> OrderRow | None:
        """One order, or None."""
        row = self.conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else self._order(row)

    def order_by_label(self, label: str) -> OrderRow | None:
        """The order carrying ``label``, or None."""
        row = self.conn.execute("SELECT * FROM orders WHERE label = ?", (label,)).fetchone()
        return None if row is None else self._order(row)

    def orders(self, position_id: str | None = None) -> list[OrderRow]:
        """Orders of one position (all when None), oldest first."""
        if position_id is None:
            rows = self.conn.execute("SELECT * FROM orders ORDER BY id").fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM orders WHERE position_id = ? ORDER BY id", (position_id,)
            ).fetchall()
        return [self._order(r) for r in rows]

    @staticmethod
    def _order(row: sqlite3.Row) -> OrderRow:
        return OrderRow(
            id=row["id"],
            position_id=row["position_id"],
            kind=row["kind"],
            attempt=row["attempt"],
            label=row["label"],
            legs=json.loads(row["legs"]),
            side=row["side"],
            amount=row["amount"],
            ladder=json.loads(row["ladder"]),
            price=Decimal(row["price"]),
            broker_order_id=row["broker_order_id"],
            state=row["state"],
            filled_amount=row["filled_amount"],
            average_price=dec(row["average_price"]),
            reject_reason=row["reject_reason"],
        )

    def add_fill(self, order_id: int, fill: NewFill) -> bool:
        """Store a fill; False when its ``trade_id`` was already stored."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO fills (trade_id, order_id, instrument_name, direction, amount,"
                " price, fee, fee_currency, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (trade_id) DO NOTHING",
                (
                    fill.trade_id,
                    order_id,
                    fill.instrument_name,
                    fill.direction,
                    str(fill.amount),
                    str(fill.price),
                    str(fill.fee),
                    fill.fee_currency,
                    fill.timestamp,
                ),
            )
            return cur.rowcount == 1

    def fills(self, order_id: int) -> list[NewFill]:
        """The fills of one order."""
        rows = self.conn.execute(
            "SELECT * FROM fills WHERE order_id = ? ORDER BY id", (order_id,)
        ).fetchall()
        return [
            NewFill(
                trade_id=r["trade_id"],
                instrument_name=r["instrument_name"],
                direction=r["direction"],
                amount=Decimal(r["amount"]),
                price=Decimal(r["price"]),
                fee=Decimal(r["fee"]),
                fee_currency=r["fee_currency"],
                timestamp=r["timestamp"],
            )
            for r in rows
        ]
