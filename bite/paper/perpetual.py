"""The paper venue's ETH-PERPETUAL, for the collateral hedge (docs/paper-exchange.md 6).

Deribit's ETH perpetual is inverse: a contract is 1 USD, P&L, fees and margin are in
ETH. Here:

- the mark follows the index with a small basis, eight hours of the funding rate
  (``index x (1 + 8 x funding_hourly)``); the touch is 2 basis points either side,
  on the 0.05 USD tick;
- a limit order fills whole, at the touch, when its price reaches it (a taker), and
  pays the taker fee, 0.05 % of the notional (Deribit's fee schedule); otherwise it
  rests until the market reaches it or it is cancelled;
- funding is paid every hour on the position held at the hour: ``size / index x rate``
  ETH from longs to shorts when the rate is positive (the rate is the market's
  ``funding_hourly``, the funding series a backtest is given; none at all with
  ``paper.perpetual_funding: none``);
- margin is Deribit's documented rule for ETH futures (``core.hedge``:
  2 % + 0.0004 % per ETH of position initial, 1 % + 0.0004 % per ETH maintenance).
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from bite.config.schema import PaperConfig
from bite.core.hedge import perpetual_margins_eth
from bite.paper.market import MarketSource

PERPETUAL = "ETH-PERPETUAL"
TICK = Decimal("0.05")
HALF_SPREAD = Decimal("0.0002")
TAKER_FEE = Decimal("0.0005")
HOUR_MS = 3_600_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS perpetual (id INTEGER PRIMARY KEY CHECK (id = 1),
    size_usd TEXT NOT NULL, average_price TEXT NOT NULL, funding_eth TEXT NOT NULL,
    realized_eth TEXT NOT NULL, fees_eth TEXT NOT NULL, funded_until_ms INTEGER)
"""


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class PerpetualBook:
    """The perpetual's quote, position, fills and funding, on the venue's connection."""

    conn: sqlite3.Connection
    market: MarketSource
    cfg: PaperConfig

    # a throwaway account (a backtest's) keeps the rows of its fixed queries until a row
    # changes: it holds an exclusive lock, so no other connection writes behind it
    _memo_rows: bool
    _memo: tuple[int, dict[str, list[sqlite3.Row]]]  # (total_changes when read, rows by query)

    def _rows(self, sql: str) -> list[sqlite3.Row]:
        """The rows of a query without parameters (never to be changed by the caller)."""
        conn = self.conn
        if not self._memo_rows or conn.in_transaction:
            return conn.execute(sql).fetchall()
        changes, kept = self._memo
        if changes != conn.total_changes:
            kept = {}
            self._memo = (conn.total_changes, kept)
        rows = kept.get(sql)
        if rows is None:
            rows = kept[sql] = conn.execute(sql).fetchall()
        return rows

    def _transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError  # the venue's

    def _account(self) -> sqlite3.Row:
        raise NotImplementedError  # the venue's

    def init_perpetual(self) -> None:
        """The flat position of a new (or reset) account."""
        self.conn.execute(SCHEMA)
        self.conn.execute(
            "INSERT OR IGNORE INTO perpetual VALUES (1, '0', '0', '0', '0', '0', NULL)"
        )

    def _perp_row(self) -> sqlite3.Row:
        return self._rows("SELECT * FROM perpetual WHERE id = 1")[0]

    _perp_quoted: tuple[datetime, dict[str, Decimal]] | None = None
    _booked: tuple[tuple[datetime, int], tuple[Decimal, Decimal, Decimal, Decimal]] | None = None

    def perp_quote(self, now: datetime) -> dict[str, Decimal]:
        """Index, mark, bid and ask (USD) and the funding rate of the hour (one per instant)."""
        if self._perp_quoted is not None and self._perp_quoted[0] == now:
            return self._perp_quoted[1]
        quoted = self._perp_quote(now)
        self._perp_quoted = (now, quoted)
        return quoted

    def _perp_quote(self, now: datetime) -> dict[str, Decimal]:
        state = self.market.state(now)
        index = Decimal(f"{state.index:.4f}")
        funding = Decimal(f"{state.funding_hourly:.10f}")
        mark = index * (1 + 8 * funding)
        bid = (mark * (1 - HALF_SPREAD) / TICK).to_integral_value(ROUND_FLOOR) * TICK
        ask = (mark * (1 + HALF_SPREAD) / TICK).to_integral_value(ROUND_CEILING) * TICK
        return {
            "index": index,
            "mark": mark.quantize(Decimal("0.01")),
            "bid": bid,
            "ask": ask,
            "funding_hourly": funding,
        }

    def perp_ticker(self, now: datetime) -> dict[str, Any]:
        """Deribit's ``public/ticker`` of the perpetual (its fields as on the venue)."""
        q = self.perp_quote(now)
        return {
            "instrument_name": PERPETUAL,
            "timestamp": _ms(now),
            "state": "open",
            "index_price": float(q["index"]),
            "mark_price": float(q["mark"]),
            "best_bid_price": float(q["bid"]),
            "best_ask_price": float(q["ask"]),
            "best_bid_amount": 500000.0,
            "best_ask_amount": 500000.0,
            "current_funding": float(q["funding_hourly"]),
            "funding_8h": float(q["funding_hourly"] * 8),
        }

    def perp_book(self, now: datetime) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(unrealized P&L, initial margin, maintenance margin, size) of the position in
        ETH at the mark (inverse: size x (1/avg - 1/mark); Deribit's margin rule), from
        one read of the position (a throwaway account keeps it for the instant, until a row
        changes)."""
        key = (now, self.conn.total_changes)
        if self._memo_rows and self._booked is not None and self._booked[0] == key:
            return self._booked[1]
        row = self._perp_row()
        size = Decimal(row["size_usd"])
        if size == 0:
            book = Decimal(0), Decimal(0), Decimal(0), size
        else:
            mark = self.perp_quote(now)["mark"]
            pnl = size * (1 / Decimal(row["average_price"]) - 1 / mark)
            initial, maintenance = perpetual_margins_eth(size, mark)
            book = pnl, initial, maintenance, size
        self._booked = (key, book)
        return book

    def perp_position(self, now: datetime) -> dict[str, Any]:
        """Deribit's ``private/get_position`` of the perpetual."""
        row = self._perp_row()
        size = Decimal(row["size_usd"])
        q = self.perp_quote(now)
        pnl, initial, maintenance, _ = self.perp_book(now)
        return {
            "instrument_name": PERPETUAL,
            "kind": "future",
            "size": float(size),
            "direction": "buy" if size > 0 else ("sell" if size < 0 else "zero"),
            "average_price": float(Decimal(row["average_price"])),
            "mark_price": float(q["mark"]),
            "index_price": float(q["index"]),
            "floating_profit_loss": float(pnl),
            "realized_profit_loss": float(Decimal(row["realized_eth"])),
            "realized_funding": float(Decimal(row["funding_eth"])),
            "total_fees": float(Decimal(row["fees_eth"])),
            "initial_margin": float(initial),
            "maintenance_margin": float(maintenance),
        }

    def accrue_funding(self, now: datetime) -> None:
        """Pay or receive each whole hour's funding on the position held at that hour."""
        if self.cfg.perpetual_funding == "none":
            return
        row = self._perp_row()
        hour_ms = _ms(now) // HOUR_MS * HOUR_MS
        since = row["funded_until_ms"]
        size = Decimal(row["size_usd"])
        if since is None or size == 0:
            if since != hour_ms:
                self.conn.execute("UPDATE perpetual SET funded_until_ms = ?", (hour_ms,))
            return
        if since >= hour_ms:
            return
        paid = Decimal(0)
        for at_ms in range(since + HOUR_MS, hour_ms + 1, HOUR_MS):
            state = self.market.state(datetime.fromtimestamp(at_ms / 1000, tz=UTC))
            rate = Decimal(f"{state.funding_hourly:.10f}")
            paid += -size / Decimal(f"{state.index:.4f}") * rate
        with self._transaction():
            cash = Decimal(self._account()["cash_eth"]) + paid
            self.conn.execute("UPDATE account SET cash_eth = ?", (str(cash),))
            self.conn.execute(
                "UPDATE perpetual SET funding_eth = ?, funded_until_ms = ?",
                (str(Decimal(row["funding_eth"]) + paid), hour_ms),
            )

    def move_perp(self, delta_usd: Decimal, price: Decimal, fee: Decimal) -> None:
        """Book a fill of ``delta_usd`` contracts at ``price``: the realized part of a
        reduction, and the fee, go to the cash (call inside a transaction)."""
        row = self._perp_row()
        size, avg = Decimal(row["size_usd"]), Decimal(row["average_price"])
        realized = Decimal(0)
        new = size + delta_usd
        if size == 0 or (size > 0) == (delta_usd > 0):
            avg = abs(new) / (abs(size) / avg + abs(delta_usd) / price) if size else price
        else:
            closed = min(abs(delta_usd), abs(size))
            realized = closed * (1 if size > 0 else -1) * (1 / avg - 1 / price)
            if abs(delta_usd) > abs(size):
                avg = price  # the position turned: the new part opened at the fill
            elif new == 0:
                avg = Decimal(0)
        cash = Decimal(self._account()["cash_eth"]) + realized - fee
        self.conn.execute("UPDATE account SET cash_eth = ?", (str(cash),))
        self.conn.execute(
            "UPDATE perpetual SET size_usd = ?, average_price = ?, realized_eth = ?, fees_eth = ?",
            (
                str(new),
                str(avg),
                str(Decimal(row["realized_eth"]) + realized),
                str(Decimal(row["fees_eth"]) + fee),
            ),
        )

    def perp_fill_price(self, side: str, limit: Decimal, now: datetime) -> Decimal | None:
        """The touch a limit order takes, or None while it does not reach it."""
        q = self.perp_quote(now)
        if side == "buy":
            return q["ask"] if limit >= q["ask"] else None
        return q["bid"] if limit <= q["bid"] else None
