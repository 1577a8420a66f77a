"""A local JSON-RPC server that answers like Deribit's testnet, from the real chain of 2025-11-22.

The 830 options of ``tests/fixtures/deribit/chain_snapshot.csv`` are served with
their expiries moved by whole days so that each keeps its days-to-expiry at the
time of the test; prices, IVs, forwards and open interest are the recorded ones.
Daily candles rise gently into the recorded index (a bull trend), DVOL is flat.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bite.paper.chain import expiry_code

from tests.support import CHAIN_SNAPSHOT, expiry_from_code

SNAPSHOT = datetime(2025, 11, 22, 2, 15, 13, tzinfo=UTC)
INDEX = 2758.38


PERPETUAL = "ETH-PERPETUAL"
PERP_BID = 2758.6


class FakeDeribit:
    """The answers, computed once for one 'now'."""

    def __init__(self, now: datetime, testnet: bool = True) -> None:
        self.now = now
        self.testnet = testnet
        self.shift = timedelta(days=round((now - SNAPSHOT).total_seconds() / 86400))
        self.rows: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.positions: dict[str, float] = {}
        self.combos: dict[str, list[dict[str, Any]]] = {}
        self.perp_size = 0.0  # ETH-PERPETUAL, USD contracts (negative short)
        # set by a test: orders are filled at once but their answer waits for this event
        self.hold_answers: threading.Event | None = None
        self.order_received = threading.Event()
        # set by a test: the venue's clock runs this far ahead (recent lists forget)
        self.later_s = 0.0
        with CHAIN_SNAPSHOT.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                _, code, strike, letter = row["instrument_name"].split("-")
                expiry = expiry_from_code(code) + self.shift
                name = f"ETH-{expiry_code(expiry)}-{strike}-{letter}"
                self.rows[name] = {
                    **row,
                    "name": name,
                    "expiry": expiry,
                    "strike": strike,
                    "letter": letter,
                }

    def _ms(self, when: datetime) -> int:
        return int(when.timestamp() * 1000)

    def _recent(self, stamp_ms: int, seconds: int) -> bool:
        """Whether a record is still in Deribit's recent lists at the venue's time."""
        venue_now = time.time() * 1000 + self.later_s * 1000
        return venue_now - stamp_ms <= seconds * 1000

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append(method)
        if method == "public/get_time":
            return self._ms(self.now)
        if method == "public/status":
            return {"locked": "false"}
        if method == "public/get_index_price":
            return {"index_price": INDEX, "estimated_delivery_price": INDEX}
        if method == "public/get_volatility_index_data":
            step = 3600_000 if params.get("resolution") == "3600" else 60_000
            start, end = int(params["start_timestamp"]), int(params["end_timestamp"])
            first = -(-start // step) * step
            return {
                "data": [[t, 62.0, 62.0, 62.0, 62.0] for t in range(first, end + 1, step)],
                "continuation": None,
            }
        if method == "public/get_tradingview_chart_data":
            step = 86_400_000 if params.get("resolution") == "1D" else 3_600_000
            start, end = int(params["start_timestamp"]), int(params["end_timestamp"])
            ticks = list(range(-(-start // step) * step, end + 1, step))
            days_left = [(end - t) / 86_400_000 for t in ticks]
            closes = [round(INDEX * (1 - 0.0015 * d), 2) for d in days_left]
            return {
                "ticks": ticks,
                "open": closes,
                "high": closes,
                "low": closes,
                "close": closes,
                "volume": [1.0] * len(ticks),
                "status": "ok",
            }
        if method == "public/get_instruments":
            return [
                {
                    "instrument_name": r["name"],
                    "kind": "option",
                    "strike": float(r["strike"]),
                    "option_type": "call" if r["letter"] == "C" else "put",
                    "expiration_timestamp": self._ms(r["expiry"]),
                    "tick_size": 0.0001,
                    "tick_size_steps": [{"above_price": 0.005, "tick_size": 0.0005}],
                    "min_trade_amount": 1,
                    "contract_size": 1,
                    "is_active": True,
                }
                for r in self.rows.values()
            ]
        if method == "public/get_book_summary_by_currency":
            return [self._summary(r) for r in self.rows.values()]
        if method == "public/ticker" and params["instrument_name"] == PERPETUAL:
            return {
                "instrument_name": PERPETUAL,
                "timestamp": self._ms(self.now),
                "state": "open",
                "index_price": INDEX,
                "mark_price": PERP_BID + 0.025,
                "best_bid_price": PERP_BID,  # on the 0.05 USD tick
                "best_bid_amount": 100000.0,
                "best_ask_price": PERP_BID + 0.05,
                "best_ask_amount": 100000.0,
                "current_funding": 0.0,
                "funding_8h": 0.0001,
            }
        if method == "private/get_position":
            return {
                "instrument_name": params["instrument_name"],
                "kind": "future",
                "size": self.perp_size,
                "direction": "sell" if self.perp_size < 0 else "buy",
                "average_price": INDEX if self.perp_size else 0.0,
                "floating_profit_loss": 0.0,
                "realized_profit_loss": 0.0,
                "realized_funding": 0.0,
                "initial_margin": abs(self.perp_size) / INDEX * 0.02,
                "mark_price": PERP_BID + 0.025,
                "index_price": INDEX,
            }
        if method == "public/ticker":
            r = self.rows[params["instrument_name"]]
            summary = self._summary(r)
            return {
                "instrument_name": r["name"],
                "timestamp": self._ms(self.now),
                "best_bid_price": summary["bid_price"] or 0.0,
                "best_bid_amount": 100.0,
                "best_ask_price": summary["ask_price"] or 0.0,
                "best_ask_amount": 100.0,
                "mark_price": summary["mark_price"],
                "mark_iv": summary["mark_iv"],
                "underlying_price": summary["underlying_price"],
                "index_price": INDEX,
                "open_interest": summary["open_interest"],
                "state": "open",
            }
        if method == "public/auth":
            return {
                "access_token": "local-access",
                "expires_in": 900,
                "scope": "connection mainaccount trade:read_write account:read wallet:none",
            }
        if method == "private/get_account_summary":
            return {
                "currency": "ETH",
                "equity": 30.0,
                "available_funds": 30.0,
                "initial_margin": 0.0,
                "maintenance_margin": 0.0,
                "margin_balance": 30.0,
            }
        if method == "private/get_margins":
            mark = float(self.rows[params["instrument_name"]]["mark_price"])
            return {
                "buy": 0.0,
                "sell": round((0.1 + mark) * float(params["amount"]), 6),
                "min_price": 0.0001,
                "max_price": 1.0,
            }
        if method == "private/get_open_orders_by_currency":
            return [o for o in self.orders.values() if o["order_state"] == "open"]
        if method == "private/get_positions":
            return [
                {
                    "instrument_name": name,
                    "size": size,
                    "kind": "option",
                    "direction": "sell" if size < 0 else "buy",
                    "average_price": 0.0,
                }
                for name, size in self.positions.items()
                if size
            ]
        return self._trading(method, params)

    # -- a venue that fills every combo order at once -------------------------------
    # create_combo opens a book in the orientation opposite to the legs first asked and
    # hands back the existing book afterwards (as Deribit may); leg fills carry the
    # combo id but neither the combo order's id nor its label, so the connector must
    # find them by combo id.

    def _trading(self, method: str, params: dict[str, Any]) -> Any:
        if method == "private/create_combo":
            names = sorted(t["instrument_name"] for t in params["trades"])
            combo_id = "ETH-COMBO-" + "_".join(n.split("-")[2] for n in names)
            if combo_id not in self.combos:  # a new book: the other way round
                self.combos[combo_id] = [
                    {
                        "instrument_name": t["instrument_name"],
                        "amount": -1 if t["direction"] == "buy" else 1,
                    }
                    for t in params["trades"]
                ]
            return {"id": combo_id, "state": "active", "legs": self.combos[combo_id]}
        if method == "public/get_combo_details":
            return {"id": params["combo_id"], "legs": self.combos[params["combo_id"]]}
        if method in ("private/buy", "private/sell") and params["instrument_name"] == PERPETUAL:
            return self._fill_perp(method.split("/")[1], params)
        if method in ("private/buy", "private/sell"):
            answer = self._fill(method.split("/")[1], params)
            self.order_received.set()
            if self.hold_answers is not None:
                self.hold_answers.wait(30)
            return answer
        if method == "private/get_order_state_by_label":  # recent orders only (30 minutes)
            return [
                o
                for o in self.orders.values()
                if o["label"] == params["label"]
                and (o["order_state"] == "open" or self._recent(o["last_update_timestamp"], 1800))
            ]
        if method == "private/get_order_history_by_currency":
            return [
                o
                for o in reversed(self.orders.values())
                if params.get("historical") or self._recent(o["last_update_timestamp"], 1800)
            ]
        if method == "private/get_order_state":
            return self.orders[params["order_id"]]
        if method == "private/get_user_trades_by_order":  # a perpetual's fills are
            return [t for t in self.trades if t["order_id"] == params["order_id"]]
        if method == "private/get_user_trades_by_currency_and_time":  # 24 h, unless historical
            kept = [
                t
                for t in self.trades
                if params.get("historical") or self._recent(t["timestamp"], 86400)
            ]
            return {"trades": kept, "has_more": False}
        raise KeyError(method)

    def _fill(self, direction: str, params: dict[str, Any]) -> dict[str, Any]:
        combo_id, amount = params["instrument_name"], float(params["amount"])
        price = float(params["price"])
        order = self._filled_order(direction, params)
        order_id, stamp = order["order_id"], order["creation_timestamp"]
        sign = 1 if direction == "buy" else -1
        legs = self.combos[combo_id]
        # leg prices whose ratio-weighted sum is the combo price: the first leg at its
        # mark, the second so that the sum holds
        first, second = legs
        first_price = float(self.rows[first["instrument_name"]]["mark_price"])
        second_price = (price - first["amount"] * first_price) / second["amount"]
        trades = []
        for n, (leg, leg_price) in enumerate(((first, first_price), (second, second_price))):
            size = sign * leg["amount"] * amount
            self.positions[leg["instrument_name"]] = (
                self.positions.get(leg["instrument_name"], 0) + size
            )
            trades.append(
                {
                    "trade_id": f"{order_id}-T{n}",
                    "order_id": f"{order_id}-LEG{n}",
                    "instrument_name": leg["instrument_name"],
                    "direction": "buy" if size > 0 else "sell",
                    "amount": abs(size),
                    "price": round(leg_price, 6),
                    "fee": 0.0003 * abs(size),
                    "fee_currency": "ETH",
                    "timestamp": stamp,
                    "combo_id": combo_id,
                }
            )
        self.trades.extend(trades)
        return {"order": order, "trades": []}

    def _filled_order(self, direction: str, params: dict[str, Any]) -> dict[str, Any]:
        """A new order of ``private/buy`` or ``private/sell``, filled whole at its limit."""
        amount, price = float(params["amount"]), float(params["price"])
        order_id = f"ETH-{len(self.orders) + 1}"
        stamp = int(time.time() * 1000)  # when the order really happened
        self.orders[order_id] = {
            "order_id": order_id,
            "instrument_name": params["instrument_name"],
            "label": params.get("label", ""),
            "direction": direction,
            "amount": amount,
            "filled_amount": amount,
            "price": price,
            "average_price": price,
            "order_state": "filled",
            "creation_timestamp": stamp,
            "last_update_timestamp": stamp,
        }
        return self.orders[order_id]

    def _fill_perp(self, direction: str, params: dict[str, Any]) -> dict[str, Any]:
        """A perpetual order fills whole at its limit, its trade filed under it."""
        amount, price = float(params["amount"]), float(params["price"])
        order = self._filled_order(direction, params)
        order_id, stamp = order["order_id"], order["creation_timestamp"]
        self.perp_size += amount if direction == "buy" else -amount
        trade = {
            "trade_id": f"{order_id}-T0",
            "order_id": order_id,
            "instrument_name": PERPETUAL,
            "direction": direction,
            "amount": amount,
            "price": price,
            "fee": amount / price * 0.0005,
            "fee_currency": "ETH",
            "timestamp": stamp,
        }
        self.trades.append(trade)
        return {"order": order, "trades": [trade]}

    def _summary(self, r: dict[str, Any]) -> dict[str, Any]:
        def num(text: str) -> float | None:
            return float(text) if text else None

        return {
            "instrument_name": r["name"],
            "bid_price": num(r["bid_price"]),
            "ask_price": num(r["ask_price"]),
            "mark_price": float(r["mark_price"]),
            "mark_iv": float(r["mark_iv"]),
            "underlying_price": float(r["underlying_price"]),
            "open_interest": float(r["open_interest"]),
            "creation_timestamp": self._ms(self.now),
            "estimated_delivery_price": INDEX,
        }


@contextmanager
def local_server(answer: Callable[[str, bytes], bytes]) -> Iterator[str]:
    """Serve ``answer(path, body)`` to every GET and POST on 127.0.0.1; yield the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _reply(self, body: bytes) -> None:
            data = answer(self.path, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply(b"")

        def do_POST(self) -> None:
            self._reply(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def deribit_server(fake: FakeDeribit) -> Iterator[str]:
    """Serve ``fake`` as JSON-RPC on a free port of 127.0.0.1; yield the API base URL."""

    def answer(path: str, raw: bytes) -> bytes:
        body = json.loads(raw)
        envelope: dict[str, Any] = {"jsonrpc": "2.0", "id": body.get("id")}
        try:
            envelope["result"] = fake.answer(path.split("/api/v2/", 1)[-1], body.get("params", {}))
        except KeyError:
            envelope["error"] = {"code": 13020, "message": "not_found"}
        envelope["testnet"] = fake.testnet
        return json.dumps(envelope).encode()

    with local_server(answer) as base:
        yield f"{base}/api/v2"
