"""The paper account (docs/paper-exchange.md 2), kept in its own ``data/paper.sqlite``.

Combo limit orders fill against the modelled book by the rules of ``fills.py``, up
to the smaller top-of-book amount of the legs, the rest resting ``open``; the fill
price is the order's limit. Resting orders are re-checked whenever the account is
touched. Expired positions settle at 08:00 UTC at the delivery price: the average of
the index over the 30 minutes before, as on Deribit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bite.clock import iso_z
from bite.config.schema import FeesConfig, PaperConfig
from bite.core.hedge import perpetual_margins_eth
from bite.core.ticks import is_on_tick
from bite.paper.chain import (
    Chain,
    Listing,
    PaperQuote,
    expiry_listings,
    listing_from_name,
    listing_grids,
    quote,
)
from bite.paper.fills import (
    combo_fees,
    combo_prices,
    crosses,
    delivery_price,
    settlement,
    short_margin,
    split_price,
)
from bite.paper.market import MarketSource, MarketState
from bite.paper.perpetual import PERPETUAL, TAKER_FEE, TICK, PerpetualBook

SCHEMA = """
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1),
    cash_eth TEXT NOT NULL, generation INTEGER NOT NULL, trade_counter INTEGER NOT NULL,
    order_counter INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, label TEXT NOT NULL,
    legs TEXT NOT NULL, side TEXT NOT NULL, amount INTEGER NOT NULL, price TEXT NOT NULL,
    state TEXT NOT NULL, filled_amount INTEGER NOT NULL, average_price TEXT,
    reject_reason TEXT, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS orders_label ON orders (label);
CREATE TABLE IF NOT EXISTS trades (trade_id TEXT PRIMARY KEY, order_id TEXT NOT NULL,
    instrument_name TEXT NOT NULL, direction TEXT NOT NULL, amount TEXT NOT NULL,
    price TEXT NOT NULL, fee TEXT NOT NULL, timestamp_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS positions (instrument_name TEXT PRIMARY KEY, size TEXT NOT NULL,
    average_price TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settlements (id INTEGER PRIMARY KEY, instrument_name TEXT NOT NULL,
    size TEXT NOT NULL, delivery_price TEXT NOT NULL, payoff_eth TEXT NOT NULL,
    fee TEXT NOT NULL, timestamp_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fault_counts (key TEXT PRIMARY KEY, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS listed_strikes (expiry_ms INTEGER NOT NULL, strike INTEGER NOT NULL,
    PRIMARY KEY (expiry_ms, strike));
"""


class PaperRequestError(ValueError):
    """A request the paper venue refuses as malformed (HTTP 400)."""


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


RECENT_ORDERS = timedelta(minutes=30)  # Deribit lists an order as recent this long
RECENT_TRADES = timedelta(hours=24)  # ... and a trade this long; older: historical only


def _last_update_ms(row: Any) -> int:
    return int(row["updated_ms"])


def _is_perp(row: sqlite3.Row) -> bool:
    return bool(row["legs"].startswith(f'[{{"instrument_name": "{PERPETUAL}"'))


def _dec(text: str | None) -> Decimal:
    return Decimal(text) if text is not None else Decimal(0)


class PaperExchange(PerpetualBook):
    """The paper account and its order book logic."""

    def __init__(
        self,
        path: Path,
        market: MarketSource,
        cfg: PaperConfig,
        fees: FeesConfig,
        combo_tick: Decimal,
        *,
        durable: bool = True,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.market = market
        self.cfg = cfg
        self.fees = fees
        self.combo_tick = combo_tick
        self._deliveries: dict[datetime, Decimal] = {}
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self._memo_rows = not durable
        self._memo = (-1, {})
        if durable:
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute(
                "PRAGMA synchronous = NORMAL"
            )  # WAL stays consistent; fsync at checkpoints
        else:  # a backtest's account: nobody else opens it, nobody keeps it
            self.conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            self.conn.execute("PRAGMA journal_mode = MEMORY")
            self.conn.execute("PRAGMA synchronous = OFF")
        for statement in SCHEMA.strip().split(";"):
            if statement.strip():
                self.conn.execute(statement)
        if self.conn.execute("SELECT count(*) FROM account").fetchone()[0] == 0:
            self.conn.execute(
                "INSERT INTO account VALUES (1, ?, 1, 0, 0)", (str(cfg.starting_equity_eth),)
            )
        self.init_perpetual()
        self._chains: dict[datetime, Chain] = {}
        self._touched: tuple[datetime, int] | None = None
        self._listing_states: dict[datetime, MarketState] = {}
        self._listing_hour: tuple[datetime, dict[str, Listing]] | None = None
        self._listing_first_expiry: datetime | None = None
        self._listing_grids: list[tuple[datetime, str, frozenset[int]]] = []
        self._known: dict[datetime, set[int]] | None = None
        self._held_at: datetime | None = None
        self._held: dict[str, PaperQuote | None] = {}

    def close(self) -> None:
        """Close the account database."""
        self.conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One SQLite transaction (the connection autocommits each statement otherwise):
        a fill, a settlement, a reset or an hour's new strikes is written whole or not at
        all, and in one commit rather than one per row."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _listed(self, when: datetime) -> MarketState:
        """The market when an expiry was listed (asked again at every chain: kept)."""
        state = self._listing_states.get(when)
        if state is None:
            state = self.market.state(when)
            self._listing_states[when] = state
        return state

    # -- market ---------------------------------------------------------------------------

    def chain(self, now: datetime) -> Chain:
        """The modelled chain at ``now`` (cached for the instant): quotes at ``now`` of the
        instruments listed in its hour (``listed_in_hour``)."""
        chain = self._chains.get(now)
        if chain is None:
            hour = self.listed_in_hour(now)
            if self._listing_first_expiry is not None and self._listing_first_expiry > now:
                listed = hour  # nothing in the hour's listing has expired yet (never mutated)
            else:
                listed = {name: x for name, x in hour.items() if x.expiry > now}
            chain = Chain(
                self.market.state(now), self.market.seed, model=self.cfg.chain, listed_set=listed
            )
            self._chains = {now: chain}
        return chain

    def listed_in_hour(self, now: datetime) -> dict[str, Listing]:
        """What is listed in the hour of ``now``: set at the hour's start (the same in every
        process), with every strike listed before and not yet expired. A strike once listed
        stays listed until its expiry (``listed_strikes``)."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        if self._listing_hour is not None and self._listing_hour[0] == hour:
            return self._listing_hour[1]
        if self._known is None:  # read once; this process adds what it lists
            self._known = {}
            rows = self.conn.execute(
                "SELECT expiry_ms, strike FROM listed_strikes WHERE expiry_ms > ?", (_ms(hour),)
            ).fetchall()
            for expiry_ms, strike in rows:
                expiry = datetime.fromtimestamp(expiry_ms / 1000, tz=UTC)
                self._known.setdefault(expiry, set()).add(int(strike))
        known = {e: s for e, s in self._known.items() if e > hour}
        self._known = known
        grids = listing_grids(self.market.state(hour), self._listed, known)
        fresh: list[tuple[int, int]] = []
        for expiry, _, grid in grids:
            fresh += [(_ms(expiry), strike) for strike in sorted(grid - known.get(expiry, set()))]
        if self._listing_hour is not None and self._listing_grids == grids:
            found = self._listing_hour[1]  # the same strikes as the last hour asked: kept
        else:
            found = {}
            for expiry, kind, grid in grids:
                found.update(expiry_listings(expiry, kind, grid))
            self._listing_grids = grids
        if fresh:
            with self._transaction():
                self.conn.executemany("INSERT OR IGNORE INTO listed_strikes VALUES (?, ?)", fresh)
            for expiry, _, grid in grids:
                known.setdefault(expiry, set()).update(grid)
        self._listing_hour = (hour, found)
        self._listing_first_expiry = min((e for e, _, _ in grids), default=None)
        return found

    # -- account --------------------------------------------------------------------------

    def _account(self) -> sqlite3.Row:
        return self._rows("SELECT * FROM account WHERE id = 1")[0]

    def reset(self) -> int:
        """Start over: starting equity, no order, no position; the generation moves on."""
        generation = int(self._account()["generation"]) + 1
        with self._transaction():
            for table in (
                "orders",
                "trades",
                "positions",
                "settlements",
                "fault_counts",
                "perpetual",
            ):
                self.conn.execute(f"DELETE FROM {table}")  # noqa: S608
            self.init_perpetual()
            self.conn.execute(
                "UPDATE account SET cash_eth = ?, generation = ?, trade_counter = 0,"
                " order_counter = 0",
                (str(self.cfg.starting_equity_eth), generation),
            )
        return generation

    def positions(self) -> list[dict[str, Any]]:
        """Open positions, Deribit-shaped."""
        rows = self._rows("SELECT * FROM positions ORDER BY instrument_name")
        out = []
        for row in rows:
            size = Decimal(row["size"])
            out.append(
                {
                    "instrument_name": row["instrument_name"],
                    "size": float(size),
                    "direction": "buy" if size > 0 else "sell",
                    "kind": "option",
                    "average_price": float(Decimal(row["average_price"])),
                }
            )
        perp = self._perp_row()
        if Decimal(perp["size_usd"]) != 0:
            size = Decimal(perp["size_usd"])
            out.append(
                {
                    "instrument_name": PERPETUAL,
                    "size": float(size),
                    "direction": "buy" if size > 0 else "sell",
                    "kind": "future",
                    "average_price": float(Decimal(perp["average_price"])),
                }
            )
        return out

    def _held_quote(self, name: str, now: datetime) -> PaperQuote | None:
        """The quote of an option the account holds: from the instant's chain when it is
        built, else quoted alone (a held strike stays listed until its expiry, so the
        hour's whole listing is not needed to mark two legs)."""
        chain = self._chains.get(now)
        if chain is not None:
            return chain.quote(name)
        if self._held_at != now:
            self._held_at, self._held = now, {}
        if name not in self._held:
            listing = listing_from_name(name)
            self._held[name] = (
                None
                if listing is None or listing.expiry <= now
                else quote(self.market.state(now), listing, self.market.seed, self.cfg.chain)
            )
        return self._held[name]

    def _mark(self, name: str, now: datetime) -> Decimal:
        q = self._held_quote(name, now)
        return q.mark if q is not None else Decimal(0)

    def _position_margin(self, name: str, size: Decimal, now: datetime) -> Decimal:
        if size >= 0:
            return Decimal(0)
        q = self._held_quote(name, now)
        if q is None:
            return Decimal(0)
        return -size * short_margin(q)

    def order_margin(self, legs: list[dict[str, Any]], amount: int, now: datetime) -> Decimal:
        """Initial margin of an order (ETH): standard per short leg, or the spread's max loss."""
        chain = self.chain(now)
        quotes = [(chain.quote(leg["instrument_name"]), leg["direction"]) for leg in legs]
        if self.cfg.margin_model == "portfolio" and len(quotes) == 2:
            strikes = [Decimal(q.listing.strike) for q, _ in quotes if q is not None]
            forward = next(Decimal(f"{q.forward:.4f}") for q, _ in quotes if q is not None)
            if len(strikes) == 2:
                return abs(strikes[0] - strikes[1]) / forward * amount
        total = Decimal(0)
        for q, direction in quotes:
            if q is not None and direction == "sell":
                total += short_margin(q) * amount
        return total

    def account_summary(self, now: datetime) -> dict[str, Any]:
        """Equity, available funds and margins in ETH (Deribit's account summary shape)."""
        self.touch(now)
        cash = Decimal(self._account()["cash_eth"])
        value = Decimal(0)
        margin = Decimal(0)
        for row in self._rows("SELECT * FROM positions"):
            size = Decimal(row["size"])
            value += size * self._mark(row["instrument_name"], now)
            margin += self._position_margin(row["instrument_name"], size, now)
        open_margin = Decimal(0)
        for row in self._rows("SELECT * FROM orders WHERE state = 'open'"):
            if _is_perp(row):
                continue  # a resting hedge order: its margin is counted when it fills
            open_margin += self.order_margin(
                json.loads(row["legs"]), row["amount"] - row["filled_amount"], now
            )
        perp_pnl, perp_initial, perp_maintenance, _ = self.perp_book(now)
        equity = cash + value + perp_pnl
        margin += perp_initial
        return {
            "currency": "ETH",
            "equity": float(equity),
            "margin_balance": float(equity),
            "initial_margin": float(margin + open_margin),
            "maintenance_margin": float(
                (margin - perp_initial) * Decimal("0.75") + perp_maintenance
            ),
            "available_funds": float(equity - margin - open_margin),
        }

    # -- orders ---------------------------------------------------------------------------

    def _next(self, column: str) -> tuple[int, int]:
        self.conn.execute(f"UPDATE account SET {column} = {column} + 1")  # noqa: S608
        row = self._account()
        return int(row["generation"]), int(row[column])

    def _order_json(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "order_id": row["order_id"],
            "label": row["label"],
            "order_state": row["state"],
            "direction": row["side"],
            "amount": float(row["amount"]),
            "filled_amount": float(row["filled_amount"]),
            "price": float(Decimal(row["price"])),
            "average_price": float(_dec(row["average_price"])),
            "legs": json.loads(row["legs"]),
            "instrument_name": PERPETUAL if _is_perp(row) else "combo",
            "reject_reason": row["reject_reason"],
            "creation_timestamp": row["created_ms"],
            "last_update_timestamp": row["updated_ms"],
        }

    def _get(self, order_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT * FROM orders WHERE order_id = ?", (order_id,)
        ).fetchone()
        if row is None:
            raise PaperRequestError(f"order {order_id} not found")
        return row

    def _validate(self, legs: list[dict[str, Any]], side: str, amount: Any, price: Any) -> None:
        if side not in ("buy", "sell"):
            raise PaperRequestError("side must be buy or sell")
        if not isinstance(amount, int | float) or amount < 1 or int(amount) != amount:
            raise PaperRequestError("amount must be a whole number of contracts >= 1")
        if not legs or any(leg.get("direction") not in ("buy", "sell") for leg in legs):
            raise PaperRequestError("legs need instrument_name and direction")
        if Decimal(str(price)) <= 0:
            raise PaperRequestError("price must be positive")

    def place_combo_order(
        self,
        legs: list[dict[str, Any]],
        side: str,
        amount: int,
        price: float | str,
        label: str,
        now: datetime,
    ) -> dict[str, Any]:
        """Place a combo limit order; a venue refusal is an order in state ``rejected``."""
        self._validate(legs, side, amount, price)
        self.touch(now)
        limit = Decimal(str(price))
        reject: str | None = None
        chain = self.chain(now)
        if any(chain.quote(leg["instrument_name"]) is None for leg in legs):
            reject = "instrument_not_listed"
        elif not is_on_tick(limit, self.combo_tick):
            reject = "price_wrong_tick"
        else:
            needed = self.order_margin(legs, int(amount), now)
            available = Decimal(str(self.account_summary(now)["available_funds"]))
            if needed > available:
                reject = "not_enough_funds"
        return self._new_order(legs, side, int(amount), limit, label, reject, now)

    def place_order(
        self,
        instrument_name: str,
        side: str,
        amount: int,
        price: float | str,
        label: str,
        now: datetime,
    ) -> dict[str, Any]:
        """A limit order on one instrument (the perpetual): fills at the touch when it
        reaches it; a venue refusal is an order in state ``rejected``."""
        if instrument_name != PERPETUAL:
            raise PaperRequestError(f"single-instrument orders: only {PERPETUAL} is listed")
        legs = [{"instrument_name": PERPETUAL, "direction": side}]
        self._validate(legs, side, amount, price)
        self.touch(now)
        limit = Decimal(str(price))
        reject: str | None = None
        if not is_on_tick(limit, TICK):
            reject = "price_wrong_tick"
        else:
            size = Decimal(self._perp_row()["size_usd"])
            grows = size == 0 or (side == "sell") == (size < 0) or Decimal(amount) > abs(size)
            mark = self.perp_quote(now)["mark"]
            needed = (
                perpetual_margins_eth(size + (-1 if side == "sell" else 1) * amount, mark)[0]
                - self.perp_book(now)[1]
            )
            available = Decimal(str(self.account_summary(now)["available_funds"]))
            if grows and needed > available:
                reject = "not_enough_funds"
        return self._new_order(legs, side, int(amount), limit, label, reject, now)

    def _try_fill_perp(self, row: sqlite3.Row, now: datetime) -> list[dict[str, Any]]:
        """A resting perpetual order fills whole at the touch once its limit reaches it."""
        price = self.perp_fill_price(row["side"], Decimal(row["price"]), now)
        if price is None:
            return []
        qty = int(row["amount"]) - int(row["filled_amount"])
        fee = Decimal(qty) / price * TAKER_FEE
        with self._transaction():
            generation, number = self._next("trade_counter")
            trade_id = f"PAPER-{generation}-T{number}"
            self.conn.execute(
                "INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    trade_id,
                    row["order_id"],
                    PERPETUAL,
                    row["side"],
                    str(qty),
                    str(price),
                    str(fee),
                    _ms(now),
                ),
            )
            self.move_perp(Decimal(qty) if row["side"] == "buy" else -Decimal(qty), price, fee)
            self.conn.execute(
                "UPDATE orders SET filled_amount = amount, average_price = ?, state = 'filled',"
                " updated_ms = ? WHERE order_id = ?",
                (str(price), _ms(now), row["order_id"]),
            )
        return [
            {
                "trade_id": trade_id,
                "order_id": row["order_id"],
                "instrument_name": PERPETUAL,
                "direction": row["side"],
                "amount": float(qty),
                "price": float(price),
                "fee": float(fee),
                "fee_currency": "ETH",
                "timestamp": _ms(now),
            }
        ]

    def _new_order(
        self,
        legs: list[dict[str, Any]],
        side: str,
        amount: int,
        limit: Decimal,
        label: str,
        reject: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """Write an order (``rejected`` with its reason, else ``open``) and try to fill it."""
        state = "rejected" if reject else "open"
        with self._transaction():  # the order's number and its row, together
            generation, number = self._next("order_counter")
            order_id = f"PAPER-{generation}-{number}"
            self.conn.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)",
                (
                    order_id,
                    label,
                    json.dumps(legs),
                    side,
                    amount,
                    str(limit),
                    state,
                    reject,
                    _ms(now),
                    _ms(now),
                ),
            )
        trades = [] if reject else self._try_fill(order_id, now)
        return {"order": self._order_json(self._get(order_id)), "trades": trades}

    def edit_order(self, order_id: str, price: float | str, now: datetime) -> dict[str, Any]:
        """Move a resting order's price; an order already filled or closed comes back as it is."""
        self.touch(now)
        row = self._get(order_id)
        if row["state"] != "open":
            return {"order": self._order_json(row), "trades": []}
        limit = Decimal(str(price))
        if limit <= 0 or not is_on_tick(limit, self.combo_tick):
            raise PaperRequestError("price_wrong_tick")
        self.conn.execute(
            "UPDATE orders SET price = ?, updated_ms = ? WHERE order_id = ?",
            (str(limit), _ms(now), order_id),
        )
        trades = self._try_fill(order_id, now)
        return {"order": self._order_json(self._get(order_id)), "trades": trades}

    def cancel_order(self, order_id: str, now: datetime) -> dict[str, Any]:
        """Cancel; an order already filled or closed is returned in its final state."""
        self.touch(now)
        row = self._get(order_id)
        if row["state"] == "open":
            self.conn.execute(
                "UPDATE orders SET state = 'cancelled', updated_ms = ? WHERE order_id = ?",
                (_ms(now), order_id),
            )
        return self._order_json(self._get(order_id))

    def orders_by_label(
        self, label: str, now: datetime, *, historical: bool = False
    ) -> list[dict[str, Any]]:
        """Orders carrying exactly this label: as on Deribit, a closed order leaves the
        recent list after 30 minutes; ``historical`` finds it still."""
        self.touch(now)
        rows = self.conn.execute(
            "SELECT * FROM orders WHERE label = ? ORDER BY created_ms", (label,)
        ).fetchall()
        horizon = _ms(now - RECENT_ORDERS)
        return [
            self._order_json(r)
            for r in rows
            if historical or r["state"] == "open" or _last_update_ms(r) >= horizon
        ]

    def open_orders(self, now: datetime) -> list[dict[str, Any]]:
        """Resting orders."""
        self.touch(now)
        rows = self.conn.execute(
            "SELECT * FROM orders WHERE state = 'open' ORDER BY created_ms"
        ).fetchall()
        return [self._order_json(r) for r in rows]

    def trades_by_order(
        self, order_id: str, now: datetime, *, historical: bool = False
    ) -> list[dict[str, Any]]:
        """Fills of one order, Deribit-shaped; without ``historical`` only the last 24 hours'."""
        self.touch(now)
        rows = self.conn.execute(
            "SELECT * FROM trades WHERE order_id = ? ORDER BY trade_id", (order_id,)
        ).fetchall()
        if not historical:
            horizon = _ms(now - RECENT_TRADES)
            rows = [r for r in rows if int(r["timestamp_ms"]) >= horizon]
        return [
            {
                "trade_id": r["trade_id"],
                "order_id": r["order_id"],
                "instrument_name": r["instrument_name"],
                "direction": r["direction"],
                "amount": float(Decimal(r["amount"])),
                "price": float(Decimal(r["price"])),
                "fee": float(Decimal(r["fee"])),
                "fee_currency": "ETH",
                "timestamp": r["timestamp_ms"],
            }
            for r in rows
        ]

    # -- matching and settlement ------------------------------------------------------------

    def touch(self, now: datetime) -> None:
        """Settle what expired, pay the perpetual's funding and re-check every resting order
        against the market.

        Once per state and instant: the market is a function of time, so a second touch at
        the same instant with no row changed since the first would find what it left."""
        if self._touched == (now, self.conn.total_changes):
            return
        self.settle(now)
        self.accrue_funding(now)
        for row in self._rows("SELECT order_id FROM orders WHERE state = 'open'"):
            self._try_fill(row["order_id"], now)
        self._touched = (now, self.conn.total_changes)

    def _traded_at(self, order_id: str, now: datetime) -> bool:
        """Whether the order traded at this instant: it took the touch's amount then, and
        waits for the next instant (asking again does not offer the touch twice)."""
        found = self.conn.execute(
            "SELECT 1 FROM trades WHERE order_id = ? AND timestamp_ms = ? LIMIT 1",
            (order_id, _ms(now)),
        ).fetchone()
        return found is not None

    def _try_fill(self, order_id: str, now: datetime) -> list[dict[str, Any]]:
        row = self._get(order_id)
        if row["state"] != "open" or self._traded_at(order_id, now):
            return []
        if _is_perp(row):
            return self._try_fill_perp(row, now)
        legs = json.loads(row["legs"])
        chain = self.chain(now)
        quotes = []
        for leg in legs:
            q = chain.quote(leg["instrument_name"])
            if q is None:
                return []
            quotes.append((q, leg["direction"]))
        prices = combo_prices(quotes, row["side"])
        if prices is None:
            return []
        limit = Decimal(row["price"])
        improvement = (
            Decimal(0) if self.cfg.fills == "touch" else Decimal(str(self.cfg.price_improvement))
        )
        fills = crosses(limit, prices, row["side"], improvement)
        remaining = int(row["amount"]) - int(row["filled_amount"])
        qty = min(remaining, int(prices.top_amount))
        if not fills or qty < 1:
            return []
        with self._transaction():  # the trades, the positions, the cash and the order
            return self._book_fill(row, quotes, limit, qty, now)

    def _book_fill(
        self,
        row: sqlite3.Row,
        quotes: list[tuple[PaperQuote, str]],
        limit: Decimal,
        qty: int,
        now: datetime,
    ) -> list[dict[str, Any]]:
        leg_prices = split_price(quotes, row["side"], limit)
        fees = combo_fees(leg_prices, [d for _, d in quotes], qty, self.fees)
        trades = []
        cash_delta = Decimal(0)
        for i, (q, direction) in enumerate(quotes):
            generation, number = self._next("trade_counter")
            trade_id = f"PAPER-{generation}-T{number}"
            price = leg_prices[i]
            self.conn.execute(
                "INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    trade_id,
                    row["order_id"],
                    q.listing.name,
                    direction,
                    str(qty),
                    str(price),
                    str(fees[i]),
                    _ms(now),
                ),
            )
            size_delta = Decimal(qty) if direction == "buy" else -Decimal(qty)
            cash_delta += -size_delta * price - fees[i]
            self._move_position(q.listing.name, size_delta, price)
            trades.append(
                {
                    "trade_id": trade_id,
                    "order_id": row["order_id"],
                    "instrument_name": q.listing.name,
                    "direction": direction,
                    "amount": float(qty),
                    "price": float(price),
                    "fee": float(fees[i]),
                    "fee_currency": "ETH",
                    "timestamp": _ms(now),
                }
            )
        filled = int(row["filled_amount"]) + qty
        previous = _dec(row["average_price"]) * int(row["filled_amount"])
        average = (previous + limit * qty) / filled
        state = "filled" if filled >= int(row["amount"]) else "open"
        self.conn.execute(
            "UPDATE account SET cash_eth = ?",
            (str(Decimal(self._account()["cash_eth"]) + cash_delta),),
        )
        self.conn.execute(
            "UPDATE orders SET filled_amount = ?, average_price = ?, state = ?, "
            "updated_ms = ? WHERE order_id = ?",
            (filled, str(average), state, _ms(now), row["order_id"]),
        )
        return trades

    def _move_position(self, name: str, delta: Decimal, price: Decimal) -> None:
        row = self.conn.execute(
            "SELECT * FROM positions WHERE instrument_name = ?", (name,)
        ).fetchone()
        size = Decimal(row["size"]) if row else Decimal(0)
        avg = Decimal(row["average_price"]) if row else Decimal(0)
        new = size + delta
        if new == 0:
            self.conn.execute("DELETE FROM positions WHERE instrument_name = ?", (name,))
            return
        if size == 0 or (size > 0) == (delta > 0):
            avg = (abs(size) * avg + abs(delta) * price) / abs(new)
        self.conn.execute(
            "INSERT INTO positions VALUES (?, ?, ?) ON CONFLICT (instrument_name)"
            " DO UPDATE SET size = excluded.size, average_price = "
            "excluded.average_price",
            (name, str(new), str(avg)),
        )

    def settle(self, now: datetime) -> None:
        """Settle expired positions at the index: intrinsic USD / settlement price, in ETH."""
        for row in self._rows("SELECT * FROM positions"):
            listing = listing_from_name(row["instrument_name"])
            if listing is None or listing.expiry > now:
                continue
            delivery = self.delivery_price(listing.expiry)
            size = Decimal(row["size"])
            payoff, fee = settlement(listing, delivery, size, self.fees)
            with self._transaction():
                cash = Decimal(self._account()["cash_eth"]) + size * payoff - fee
                self.conn.execute("UPDATE account SET cash_eth = ?", (str(cash),))
                self.conn.execute(
                    "INSERT INTO settlements (instrument_name, size, delivery_price,"
                    " payoff_eth, fee, timestamp_ms) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        row["instrument_name"],
                        str(size),
                        str(delivery),
                        str(payoff),
                        str(fee),
                        _ms(listing.expiry),
                    ),
                )
                self.conn.execute(
                    "DELETE FROM positions WHERE instrument_name = ?", (row["instrument_name"],)
                )

    def delivery_price(self, expiry: datetime) -> Decimal:
        """The delivery price at ``expiry``: the 30-minute average of the index before it."""
        found = self._deliveries.get(expiry)
        if found is None:
            found = delivery_price(lambda t: self.market.state(t).index, expiry)
            self._deliveries[expiry] = found
        return found

    def delivery_prices(self, now: datetime, count: int) -> list[dict[str, Any]]:
        """The last ``count`` daily delivery prices (08:00 UTC), as Deribit lists them."""
        last = now.replace(hour=8, minute=0, second=0, microsecond=0)
        if last > now:
            last -= timedelta(days=1)
        return [
            {
                "date": (last - timedelta(days=k)).date().isoformat(),
                "delivery_price": float(self.delivery_price(last - timedelta(days=k))),
            }
            for k in range(count)
        ]

    def status(self, now: datetime) -> dict[str, Any]:
        """Account, positions and orders (``bite paper status``)."""
        summary = self.account_summary(now)
        orders = [
            self._order_json(r)
            for r in self.conn.execute(
                "SELECT * FROM orders ORDER BY created_ms DESC LIMIT 50"
            ).fetchall()
        ]
        return {
            "generation": int(self._account()["generation"]),
            "account": summary,
            "positions": self.positions(),
            "orders": orders,
            "time": iso_z(now),
        }
