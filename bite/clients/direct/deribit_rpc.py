"""Deribit's own JSON-RPC API behind the unchanged deribit client.

The direct transport of docs/service-contract.md.

An httpx transport answers the contract's ``/deribit/tools/{tool}`` by calling
Deribit API v2 over HTTPS, so the jobs, the clients and the error tree stay as
they are. Deribit error codes become the HTTP statuses the transport maps onto
the ``McpError`` tree: auth codes 401, rate limits and settlement 503 (retried
for reads only), not-found 400, and a venue's refusal of an order an order in
state ``rejected``.

Combos: ``private/create_combo`` may return an existing book whose legs point the
other way; the side and the sign of the price are derived from the returned
legs, and every order read back is converted to the contract's orientation
(``combos.py``). The JSON-RPC call and the access token live in ``jsonrpc.py``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx

from bite.clients.direct.combos import (
    contract_price,
    deribit_order,
    orientation,
    short_first,
)
from bite.clients.direct.jsonrpc import DeribitRpc, RpcError
from bite.core import labels

log = logging.getLogger("bite.deribit_rpc")

# Deribit's error codes, matched by number, never by message (the errors article
# mislabels some; the API v2.1.1 code list and docs/runbook.md name them)
CODE_NAMES: dict[int, str] = {
    10000: "authorization_required",
    10002: "qty_too_low",
    10009: "not_enough_funds",
    10028: "too_many_requests",
    10041: "settlement_in_progress",
    10043: "price_wrong_tick",
    11051: "system_maintenance",
    13004: "invalid_credentials",
    13009: "unauthorized",
    13028: "temporarily_unavailable",
    13030: "mmp_trigger",
    13032: "non_unique_order_label",
    13035: "combo_inactive",
    13036: "combo_limit",
    13403: "scope_exceeded",
}
AUTH_CODES = frozenset({10000, 13004, 13009, 13021, 13403})
RATE_LIMITED = 10028  # the session ends: wait, authenticate again; reads are retried
PAUSED_CODES = frozenset({10041, 11051, 13028})  # nothing sent, no health strike
BUSY_CODES = frozenset({10040, 10047, 10066})
REFUSALS = frozenset({10002, 10005, 10007, 10009, 10021, 10026, 10037, 10043, 11054, 13030})
LABEL_TAKEN = 13032
FINAL_CODES = frozenset({10010, 11008})
COMBO_UNAVAILABLE = frozenset({13035, 13036})


Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class DeribitDirectTransport(httpx.AsyncBaseTransport):
    """The contract's deribit tools, answered from Deribit's API."""

    def __init__(self, rpc: DeribitRpc, public_data_elsewhere: bool) -> None:
        self.rpc = rpc
        self.public_elsewhere = public_data_elsewhere
        self._combos: dict[str, list[tuple[str, int]]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Route ``/deribit/tools/{tool}`` and ``/deribit/health``."""
        parts = [p for p in request.url.path.split("/") if p]
        tool = parts[-1] if parts else ""
        try:
            if tool == "health":
                await self.rpc.call("public/get_time")
                return httpx.Response(200, json={"status": "ok"})
            handler: Handler | None = getattr(self, f"_tool_{tool}", None)
            if handler is None:
                return _error(404, "unknown_tool", tool)
            args = json.loads(request.content or b"{}")
            return httpx.Response(200, json=_plain(await handler(args)))
        except RpcError as exc:
            name = code_name(exc.code)
            if exc.code in AUTH_CODES:
                return _error(401, name, exc.message)
            if exc.code == RATE_LIMITED:
                self.rpc.forget_token()  # Deribit ends the session: authenticate again
                return _error(429, name, exc.message)
            if exc.code in PAUSED_CODES or exc.code in BUSY_CODES:
                return _error(503, name, exc.message)
            if exc.code in COMBO_UNAVAILABLE:
                return _error(409, name, f"combo unavailable: {exc.message}")
            return _error(400, name, exc.message)

    async def _public(self, method: str, params: Mapping[str, Any]) -> Any:
        return (await self.rpc.call(method, params, public_data=self.public_elsewhere)).result

    async def _tool_environment(self, args: dict[str, Any]) -> Any:
        """The testnet flag and the platform's lock (``public/status``): public calls only,
        so that a key meant for the other environment is never sent."""
        answer = await self.rpc.call("public/get_time")
        if answer.testnet is None:
            raise RpcError("public/get_time", -32600, "no testnet flag in the answer")
        status = (await self.rpc.call("public/status")).result
        return {
            "environment": "testnet" if answer.testnet else "mainnet",
            "locked": _locked_for_eth(status),
        }

    async def _tool_combo_tick(self, args: dict[str, Any]) -> Any:
        """The tick of ETH option combos as ``public/get_instruments`` lists them: the
        largest listed (a price on it is on every finer one); none listed, None."""
        listed = await self._public(
            "public/get_instruments", {"currency": "ETH", "kind": "option_combo"}
        )
        ticks = [Decimal(str(row["tick_size"])) for row in listed or [] if row.get("tick_size")]
        return {"tick_size": str(max(ticks)) if ticks else None}

    async def _tool_key_scope(self, args: dict[str, Any]) -> Any:
        """The scope ``public/auth`` granted the key (asked after the environment matched)."""
        return {"scope": await self.rpc.granted_scope() if self.rpc.has_key else None}

    async def _tool_index_price(self, args: dict[str, Any]) -> Any:
        return await self._public("public/get_index_price", {"index_name": "eth_usd"})

    async def _tool_dvol(self, args: dict[str, Any]) -> Any:
        return await self._public("public/get_volatility_index_data", args)

    async def _tool_candles(self, args: dict[str, Any]) -> Any:
        return await self._public("public/get_tradingview_chart_data", args)

    async def _tool_instruments(self, args: dict[str, Any]) -> Any:
        return await self._public("public/get_instruments", _without_window(args))

    async def _tool_book_summary(self, args: dict[str, Any]) -> Any:
        return await self._public("public/get_book_summary_by_currency", _without_window(args))

    async def _tool_ticker(self, args: dict[str, Any]) -> Any:
        return await self._public("public/ticker", args)

    async def _tool_delivery_prices(self, args: dict[str, Any]) -> Any:
        return await self._public("public/get_delivery_prices", args)

    async def _tool_account_summary(self, args: dict[str, Any]) -> Any:
        return (await self.rpc.call("private/get_account_summary", {"currency": "ETH"})).result

    async def _tool_positions(self, args: dict[str, Any]) -> Any:
        return (
            await self.rpc.call("private/get_positions", {"currency": "ETH", "kind": "option"})
        ).result

    async def _tool_margin_estimate(self, args: dict[str, Any]) -> Any:
        """Per leg ``private/get_margins``, summed: an upper bound under standard margin."""
        amount = float(args["amount"])
        total = Decimal(0)
        for leg in args["legs"]:
            name = str(leg["instrument_name"])
            ticker = await self._public("public/ticker", {"instrument_name": name})
            margins = (
                await self.rpc.call(
                    "private/get_margins",
                    {
                        "instrument_name": name,
                        "amount": amount,
                        "price": float(ticker.get("mark_price", 0)),
                    },
                )
            ).result
            total += Decimal(str(margins["sell" if leg["direction"] == "sell" else "buy"]))
        return {
            "initial_margin": str(total),
            "maintenance_margin": str(total * 3 / 4),
            "currency": "ETH",
            "upper_bound": True,
        }

    async def _legs(self, combo_id: str) -> list[tuple[str, int]]:
        if combo_id not in self._combos:
            details = await self._public("public/get_combo_details", {"combo_id": combo_id})
            self._combos[combo_id] = [
                (str(leg["instrument_name"]), int(leg["amount"])) for leg in details.get("legs", [])
            ]
        return self._combos[combo_id]

    async def _convert(self, order: dict[str, Any]) -> dict[str, Any]:
        """A Deribit combo order in the contract's orientation."""
        out = dict(order)
        name = str(order.get("instrument_name", ""))
        if "-" not in name or name.count("-") < 3 or "_" not in name:
            return out  # not a combo: as it is
        direction = str(order.get("direction", "buy"))
        side, price = contract_price(direction, Decimal(str(order.get("price", 0))))
        out["direction"] = side
        out["price"] = float(price)
        if order.get("average_price"):
            out["average_price"] = float(
                contract_price(direction, Decimal(str(order["average_price"])))[1]
            )
        out["legs"] = await self._legs(name)
        return out

    async def _active_combo(self, trades: list[dict[str, Any]]) -> dict[str, Any]:
        """``private/create_combo``, created again once if the book is inactive or refused."""
        combo = await self._create_combo(trades) or await self._create_combo(trades)
        if combo is None:
            raise RpcError("private/create_combo", 13036, "no active combo book after two tries")
        return combo

    async def _create_combo(self, trades: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The combo book, or None when the venue refuses it or hands back an inactive one."""
        try:
            combo = (await self.rpc.call("private/create_combo", {"trades": trades})).result
        except RpcError as exc:
            if exc.code not in COMBO_UNAVAILABLE:
                raise
            log.warning("combo refused: %s %s", exc.code, exc.message)
            return None
        if combo.get("state") not in (None, "active"):
            log.warning("combo %s is %s", combo.get("id"), combo.get("state"))
            return None
        return dict(combo)

    async def _tool_place_combo_order(self, args: dict[str, Any]) -> Any:
        wanted = {str(leg["instrument_name"]): str(leg["direction"]) for leg in args["legs"]}
        amount = int(args["amount"])
        trades = [
            {"instrument_name": n, "direction": d, "amount": amount} for n, d in wanted.items()
        ]
        combo = await self._active_combo(trades)
        combo_id = str(combo["id"])
        legs = [(str(leg["instrument_name"]), int(leg["amount"])) for leg in combo["legs"]]
        self._combos[combo_id] = legs
        orient = orientation(legs, wanted)
        method_side, price = deribit_order(str(args["side"]), Decimal(str(args["price"])), orient)
        params = {
            "instrument_name": combo_id,
            "amount": amount,
            "type": "limit",
            "price": float(price),
            "label": str(args["label"]),
            "time_in_force": "good_til_cancelled",
        }
        return await self._send(f"private/{method_side}", params, args)

    async def _send(
        self, method: str, params: dict[str, Any], args: dict[str, Any]
    ) -> dict[str, Any]:
        """``private/buy`` or ``private/sell`` once: a label already taken is an earlier
        send that went through (its order is adopted); a venue refusal is an order in
        state ``rejected``."""
        try:
            result = (await self.rpc.call(method, params)).result
        except RpcError as exc:
            if exc.code == LABEL_TAKEN:  # an earlier send went through: the order is ours
                log.warning("label %s is taken: adopting the order that holds it", args["label"])
                found = await self._tool_orders_by_label(
                    {"label": args["label"], "historical": True}
                )
                if found:
                    return {"order": found[-1], "trades": []}
            if exc.code not in REFUSALS:
                raise
            return {
                "order": {
                    "order_id": f"rejected-{args['label']}",
                    "label": args["label"],
                    "order_state": "rejected",
                    "reject_reason": code_name(exc.code),
                    "amount": int(args["amount"]),
                    "filled_amount": 0,
                    "price": args["price"],
                    "direction": args["side"],
                },
                "trades": [],
            }
        return {"order": await self._convert(result["order"]), "trades": result.get("trades", [])}

    async def _tool_place_order(self, args: dict[str, Any]) -> Any:
        """A limit order on one instrument (the hedge's perpetual): ``private/buy`` or
        ``private/sell`` as the side says, no combo, no orientation."""
        side = str(args["side"])
        if side not in ("buy", "sell"):
            raise RpcError("private/buy", -32602, f"side {side!r}")
        params = {
            "instrument_name": str(args["instrument_name"]),
            "amount": int(args["amount"]),
            "type": "limit",
            "price": float(Decimal(str(args["price"]))),
            "label": str(args["label"]),
            "time_in_force": "good_til_cancelled",
        }
        return await self._send(f"private/{side}", params, args)

    async def _tool_position(self, args: dict[str, Any]) -> Any:
        """``private/get_position`` of one instrument (the perpetual)."""
        name = str(args["instrument_name"])
        return (await self.rpc.call("private/get_position", {"instrument_name": name})).result

    async def _order_state(self, order_id: str) -> dict[str, Any]:
        result = (await self.rpc.call("private/get_order_state", {"order_id": order_id})).result
        return await self._convert(result)

    async def _tool_edit_order(self, args: dict[str, Any]) -> Any:
        order_id = str(args["order_id"])
        current = (await self.rpc.call("private/get_order_state", {"order_id": order_id})).result
        if current.get("order_state") != "open":
            return {"order": await self._convert(current), "trades": []}
        if str(current["instrument_name"]).endswith("-PERPETUAL"):  # one instrument
            return await self._edit(order_id, current, Decimal(str(args["price"])))
        legs = await self._legs(str(current["instrument_name"]))
        if args.get("legs"):  # the job says what each leg trades
            wanted = {str(leg["instrument_name"]): str(leg["direction"]) for leg in args["legs"]}
        else:  # a caller that did not say: the label of ours says entry or exit
            ours = labels.parse(str(current.get("label", "")))
            if ours is None or ours.kind == "hedge":
                raise RpcError("private/edit", -32602, "not a combo order of ours: no legs given")
            short, long = short_first(legs)
            wanted = dict(zip((short[0], long[0]), ours.directions, strict=True))
        orient = orientation(legs, wanted)
        our_side = contract_price(str(current["direction"]), Decimal(str(current["price"])))[0]
        _, price = deribit_order(our_side, Decimal(str(args["price"])), orient)
        return await self._edit(order_id, current, price)

    async def _edit(self, order_id: str, current: dict[str, Any], price: Decimal) -> Any:
        """``private/edit`` to ``price`` (Deribit's); an order that ended meanwhile comes
        back as it ended."""
        try:
            result = (
                await self.rpc.call(
                    "private/edit",
                    {"order_id": order_id, "amount": current["amount"], "price": float(price)},
                )
            ).result
        except RpcError as exc:
            if exc.code in FINAL_CODES:
                return {"order": await self._order_state(order_id), "trades": []}
            raise
        return {"order": await self._convert(result["order"]), "trades": result.get("trades", [])}

    async def _tool_cancel_order(self, args: dict[str, Any]) -> Any:
        order_id = str(args["order_id"])
        try:
            result = (await self.rpc.call("private/cancel", {"order_id": order_id})).result
        except RpcError as exc:
            if exc.code in FINAL_CODES:  # filled or closed meanwhile: the order as it ended
                return await self._order_state(order_id)
            raise
        return await self._convert(result)

    async def _tool_orders_by_label(self, args: dict[str, Any]) -> Any:
        """Recent orders by label; with ``historical``, older ones too: Deribit keeps an
        order in the recent list about 30 minutes, and ``get_order_state_by_label`` has
        no history, so the order history (``historical: true``) is filtered by label."""
        rows = (
            await self.rpc.call(
                "private/get_order_state_by_label", {"currency": "ETH", "label": args["label"]}
            )
        ).result
        if not rows and args.get("historical"):
            ours = labels.parse(str(args["label"]))
            kind = "future" if ours is not None and ours.kind == "hedge" else "option_combo"
            history = (
                await self.rpc.call(
                    "private/get_order_history_by_currency",
                    {
                        "currency": "ETH",
                        "kind": kind,
                        "count": 100,
                        "include_unfilled": True,
                        "historical": True,
                    },
                )
            ).result
            rows = [r for r in history if r.get("label") == args["label"]]
        return [await self._convert(r) for r in rows]

    async def _tool_open_orders(self, args: dict[str, Any]) -> Any:
        rows = (
            await self.rpc.call("private/get_open_orders_by_currency", {"currency": "ETH"})
        ).result
        return [await self._convert(r) for r in rows]

    async def _tool_trades_by_order(self, args: dict[str, Any]) -> Any:
        """The order's fills. A combo fills per leg: when the legs are not found under the
        combo order's id, they are matched among the account's trades of the order's
        lifetime by order id, label, or combo id."""
        order_id = str(args["order_id"])
        trades = (
            await self.rpc.call(
                "private/get_user_trades_by_order", {"order_id": order_id, "historical": True}
            )
        ).result
        if trades:
            return trades
        order = (await self.rpc.call("private/get_order_state", {"order_id": order_id})).result
        if not order.get("filled_amount"):
            return []
        start = int(order.get("creation_timestamp", 0))
        end = int(order.get("last_update_timestamp", start)) + 1000  # a second's slack
        window = (
            await self.rpc.call(
                "private/get_user_trades_by_currency_and_time",
                {
                    "currency": "ETH",
                    "start_timestamp": start,
                    "end_timestamp": end,
                    "count": 1000,
                    "sorting": "asc",
                    "historical": True,
                },
            )
        ).result
        label, combo = order.get("label"), order.get("instrument_name")
        # a leg of this combo order trades in the order's direction times the leg's sign
        sign = 1 if order.get("direction") == "buy" else -1
        expected = {
            name: "buy" if sign * amount > 0 else "sell"
            for name, amount in (await self._legs(str(combo)) if combo else [])
        }

        def ours(t: dict[str, Any]) -> bool:
            if t.get("order_id") == order_id or (label and t.get("label") == label):
                return True
            return (
                bool(combo)
                and t.get("combo_id") == combo
                and start <= int(t.get("timestamp", 0)) <= end
                and expected.get(str(t.get("instrument_name"))) == t.get("direction")
            )

        return [t for t in window.get("trades", []) if ours(t)]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def code_name(code: int) -> str:
    """Deribit's name for an error code (``deribit_<code>`` for one not listed)."""
    return CODE_NAMES.get(code, f"deribit_{code}")


def _locked_for_eth(status: Any) -> bool:
    """``public/status``: ``locked`` is "true", "partial" or "false"; partial names the
    locked currencies or indices."""
    if not isinstance(status, Mapping):
        return False
    locked = str(status.get("locked", "false")).lower()
    if locked == "true":
        return True
    if locked == "partial":
        names = [str(n).lower() for n in status.get("locked_indices", []) or []]
        names += [str(n).lower() for n in status.get("locked_currencies", []) or []]
        return any(n in ("eth", "eth_usd") or n.startswith("eth") for n in names)
    return False


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def _without_window(args: dict[str, Any]) -> dict[str, Any]:
    """Deribit has no expiry filter: the window hint stays here (the client filters and
    merges whatever comes back)."""
    return {k: v for k, v in args.items() if k not in ("expiry_from", "expiry_to")}
