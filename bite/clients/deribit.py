"""The broker client: every deribit tool of the contract, parsed into core types.

The parsers live in ``deribit_json.py``; this client calls the tools, checks what the
cycle uses for anomalies (docs/strategy.md 11) and caches the instruments for the run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bite.clients._fields import Fields
from bite.clients._http import McpHttp
from bite.clients.deribit_json import (
    SERVICE,
    AccountSummary,
    BrokerOrder,
    BrokerPosition,
    BrokerTrade,
    Candles,
    ChainSnapshot,
    Instrument,
    OrderResult,
    candles_from_json,
    instrument_to_info,
    ms_to_time,
    order_from_json,
    order_result_from_json,
    perp_position_from_json,
    perp_quote_from_json,
    summary_to_chain,
    ticker_to_quote,
    to_decimal,
    to_float,
    trade_from_json,
)
from bite.clock import Clock
from bite.config.schema import AnomalyConfig
from bite.core.anomaly import dvol_anomalies, index_anomalies, quote_anomalies
from bite.core.hedge import PerpPosition, PerpQuote
from bite.core.types import OptionQuote
from bite.errors import McpDataAnomalyError, McpProtocolError, McpRequestError

log = logging.getLogger("bite.deribit")
_err = Fields(SERVICE).error


def _window_hint(expiring: tuple[datetime, datetime] | None) -> dict[str, int]:
    """An expiry window as the service contract's hint (``expiry_from``/``expiry_to``, ms)."""
    if expiring is None:
        return {}
    return {
        "expiry_from": int(expiring[0].timestamp() * 1000),
        "expiry_to": int(expiring[1].timestamp() * 1000),
    }


@dataclass(frozen=True)
class Venue:
    """What the broker says of itself before anything private is sent."""

    environment: str
    locked: bool


class DeribitClient:
    """Typed access to the broker's tools."""

    def __init__(self, http: McpHttp, clock: Clock, anomaly: AnomalyConfig) -> None:
        self.http = http
        self.clock = clock
        self.anomaly = anomaly
        self._instruments: dict[str, Instrument] | None = None

    async def _call(
        self, tool: str, args: Mapping[str, Any] | None = None, *, retry: bool = True
    ) -> Any:
        return await self.http.call(SERVICE, tool, args, retry=retry)

    async def environment(self) -> str:
        """Which environment the broker is: paper, testnet or mainnet."""
        return (await self.venue()).environment

    async def venue(self) -> Venue:
        """The broker's environment, whether its platform is locked, the key's scope.

        ``locked`` and ``key_scope`` are optional in the contract: a service that does not
        send them is taken as unlocked, with its key its own business.
        """
        result = await self._call("environment")
        env = result.get("environment") if isinstance(result, Mapping) else None
        if env not in ("paper", "testnet", "mainnet"):
            raise _err("environment", f"unknown environment {env!r}")
        locked = result.get("locked", False)
        return Venue(str(env), locked is True or locked == "true")

    async def combo_tick(self) -> Decimal | None:
        """The tick the venue lists for ETH option combos; None when it lists none (or the
        service does not know the tool): the config's ``execution.combo_tick`` stands."""
        try:
            result = await self._call("combo_tick", {"currency": "ETH"})
        except McpProtocolError:
            return None
        raw = result.get("tick_size") if isinstance(result, Mapping) else None
        if raw is None:
            return None
        tick = to_decimal(raw, "combo_tick", "tick_size")
        if not Decimal(0) < tick <= Decimal("0.01"):
            raise _err("combo_tick", f"implausible combo tick {tick}")
        return tick

    async def key_scope(self) -> str | None:
        """What the API key may do (``public/auth``'s scope); None when unknown.

        Only a connector that holds the key answers; a service that holds it itself
        does not know the tool (404), and its key is its own business.
        """
        try:
            result = await self._call("key_scope")
        except McpProtocolError:
            return None
        scope = result.get("scope") if isinstance(result, Mapping) else None
        return str(scope) if isinstance(scope, str) else None

    async def index_price(self) -> tuple[Decimal, datetime]:
        """The ETH index and when it was read; an anomalous index raises."""
        result = await self._call("index_price", {"index_name": "eth_usd"})
        if not isinstance(result, Mapping):
            raise _err("index_price", "answer is not an object")
        index = to_decimal(result.get("index_price"), "index_price", "index_price")
        if index_anomalies(index):
            raise McpDataAnomalyError(SERVICE, "index_price", f"index {index} is not positive")
        return index, self.clock.now()

    async def dvol(
        self, start: datetime, end: datetime, resolution: str = "3600"
    ) -> tuple[tuple[datetime, float], ...]:
        """DVOL points (time, close); the last one, which the cycle uses, is anomaly-checked."""
        result = await self._call(
            "dvol",
            {
                "currency": "ETH",
                "start_timestamp": int(start.timestamp() * 1000),
                "end_timestamp": int(end.timestamp() * 1000),
                "resolution": resolution,
            },
        )
        if not isinstance(result, Mapping) or not isinstance(result.get("data"), list):
            raise _err("dvol", "answer without data")
        points = []
        for row in result["data"]:
            if not isinstance(row, list) or len(row) < 5:
                raise _err("dvol", "a point is not [ts, open, high, low, close]")
            points.append((ms_to_time(row[0], "dvol", "ts"), to_float(row[4], "dvol", "close")))
        points.sort()
        if points:
            found = dvol_anomalies(points[-1][1], self.anomaly)
            if found:
                raise McpDataAnomalyError(SERVICE, "dvol", f"DVOL {points[-1][1]}: {found[0]}")
        return tuple(points)

    async def candles(self, start: datetime, end: datetime, resolution: str) -> Candles:
        """ETH-PERPETUAL candles (``60`` minutes or ``1D``)."""
        return candles_from_json(
            await self._call(
                "candles",
                {
                    "instrument_name": "ETH-PERPETUAL",
                    "start_timestamp": int(start.timestamp() * 1000),
                    "end_timestamp": int(end.timestamp() * 1000),
                    "resolution": resolution,
                },
            )
        )

    async def instruments(
        self, *, refresh: bool = False, expiring: tuple[datetime, datetime] | None = None
    ) -> dict[str, Instrument]:
        """Active ETH options by name; asked once, again only when a name is missing.

        A one-shot job asks once; a long-lived run (a backtest) refreshes when the book
        or a ticker request names an instrument listed after the last answer. Asking
        for the options ``expiring`` within a window asks for that window only (a hint
        the service may ignore) and adds what it finds to what is known: an entry
        parses the few hundred options it can trade, not the whole listing, and a
        ticker of a name outside the window asks again for everything.
        """
        if self._instruments is None or refresh:
            args: dict[str, Any] = {"currency": "ETH", "kind": "option", "expired": False}
            args.update(_window_hint(expiring))
            rows = await self._call("instruments", args)
            if not isinstance(rows, list):
                raise _err("instruments", "answer is not a list")
            known = self._instruments or {}
            fresh: dict[str, Instrument] = dict(known) if "expiry_from" in args else {}
            for r in rows:
                if not isinstance(r, Mapping) or r.get("kind", "option") != "option":
                    continue
                same = known.get(str(r.get("instrument_name")))
                if same is not None and same.is_active == bool(r.get("is_active", True)):
                    fresh[same.name] = same  # an instrument does not change: parsed once
                else:
                    info = instrument_to_info(r)
                    fresh[info.name] = info
            self._instruments = fresh
        return self._instruments

    async def chain(self, expiring: tuple[datetime, datetime] | None = None) -> ChainSnapshot:
        """The chain from ``book_summary`` + ``instruments`` (two calls, no fan-out).

        ``expiring`` keeps the options that expire within [from, to]: the service is
        told (``expiry_from``/``expiry_to`` in ms, a hint it may ignore) and the answer
        is filtered here whatever it did, so the result is the same from any service.
        """
        instruments = await self.instruments(expiring=expiring)
        args: dict[str, Any] = {"currency": "ETH", "kind": "option", **_window_hint(expiring)}
        rows = await self._call("book_summary", args)
        if not isinstance(rows, list):
            raise _err("book_summary", "answer is not a list")
        if any(str(r.get("instrument_name")) not in instruments for r in rows):
            # a listing newer than the cache
            instruments = await self.instruments(refresh=True, expiring=expiring)
        if expiring is not None:  # the rows' own instruments, not every one ever listed
            named = (instruments.get(str(r.get("instrument_name"))) for r in rows)
            instruments = {
                i.name: i for i in named if i is not None and expiring[0] <= i.expiry <= expiring[1]
            }
        return summary_to_chain(rows, instruments, self.clock.now(), self.anomaly)

    async def ticker(self, name: str) -> OptionQuote:
        """A fresh quote of one leg; an anomaly raises (the cycle uses it)."""
        instrument = (await self.instruments()).get(name)
        if instrument is None:
            instrument = (await self.instruments(refresh=True)).get(name)
        if instrument is None:
            raise _err("ticker", f"{name} is not listed")
        result = await self._call("ticker", {"instrument_name": name})
        if not isinstance(result, Mapping):
            raise _err("ticker", "answer is not an object")
        q = ticker_to_quote(result, instrument)
        found = quote_anomalies(q, self.anomaly)
        if found:
            raise McpDataAnomalyError(SERVICE, "ticker", f"{name}: {', '.join(found)}")
        return q

    async def account_summary(self) -> AccountSummary:
        """Equity and margins in ETH."""
        r = await self._call("account_summary", {"currency": "ETH"})
        if not isinstance(r, Mapping):
            raise _err("account_summary", "answer is not an object")
        t = "account_summary"
        return AccountSummary(
            equity=to_decimal(r.get("equity"), t, "equity"),
            available_funds=to_decimal(r.get("available_funds"), t, "available_funds"),
            initial_margin=to_decimal(r.get("initial_margin", 0), t, "initial_margin"),
            maintenance_margin=to_decimal(r.get("maintenance_margin", 0), t, "maintenance_margin"),
            time=self.clock.now(),
        )

    async def positions(self) -> list[BrokerPosition]:
        """ETH option positions."""
        rows = await self._call("positions", {"currency": "ETH", "kind": "option"})
        if not isinstance(rows, list):
            raise _err("positions", "answer is not a list")
        return [
            BrokerPosition(
                str(r.get("instrument_name")),
                to_decimal(r.get("size"), "positions", "size"),
                to_decimal(r.get("average_price", 0), "positions", "average_price"),
            )
            for r in rows
            if r.get("kind", "option") == "option"
        ]

    async def margin_estimate(
        self, legs: list[dict[str, str]], amount: int, price: Decimal
    ) -> Decimal | None:
        """The broker's initial margin for the order, or None when it offers no estimate."""
        try:
            r = await self._call(
                "margin_estimate", {"legs": legs, "amount": amount, "price": str(price)}
            )
        except (McpProtocolError, McpRequestError) as exc:
            log.warning(
                "no margin estimate from the broker (%s): using the standard formula", exc.detail
            )
            return None
        if not isinstance(r, Mapping):
            return None
        return to_decimal(r.get("initial_margin"), "margin_estimate", "initial_margin")

    async def place_combo_order(
        self, legs: list[dict[str, str]], side: str, amount: int, price: Decimal, label: str
    ) -> OrderResult:
        """Send a combo order: never retried (a lost answer is looked up by label)."""
        result = await self._call(
            "place_combo_order",
            {"legs": legs, "side": side, "amount": amount, "price": str(price), "label": label},
            retry=False,
        )
        return order_result_from_json(result, "place_combo_order")

    async def place_order(
        self, instrument_name: str, side: str, amount: int, price: Decimal, label: str
    ) -> OrderResult:
        """Send a limit order on one instrument (the hedge's perpetual): never retried (a
        lost answer is looked up by label)."""
        result = await self._call(
            "place_order",
            {
                "instrument_name": instrument_name,
                "side": side,
                "amount": amount,
                "price": str(price),
                "label": label,
            },
            retry=False,
        )
        return order_result_from_json(result, "place_order")

    async def perp_ticker(self, instrument_name: str) -> PerpQuote:
        """The perpetual's index, mark, touch and funding rate."""
        result = await self._call("ticker", {"instrument_name": instrument_name})
        if not isinstance(result, Mapping):
            raise _err("ticker", "answer is not an object")
        return perp_quote_from_json(result)

    async def perp_position(self, instrument_name: str) -> PerpPosition:
        """What the account holds on the perpetual (``private/get_position``)."""
        result = await self._call("position", {"instrument_name": instrument_name})
        if not isinstance(result, Mapping):
            raise _err("position", "answer is not an object")
        return perp_position_from_json(result)

    async def edit_order(
        self, order_id: str, price: Decimal, legs: list[dict[str, str]] | None = None
    ) -> OrderResult:
        """Move an order's price: never retried. ``legs`` (each instrument and the direction
        the order trades it) tell a connector that re-derives the combo's orientation."""
        args: dict[str, Any] = {"order_id": order_id, "price": str(price)}
        if legs is not None:
            args["legs"] = legs
        result = await self._call("edit_order", args, retry=False)
        return order_result_from_json(result, "edit_order")

    async def cancel_order(self, order_id: str) -> BrokerOrder:
        """Cancel (idempotent, retried like a read); the answer is the order's final state."""
        result = await self._call("cancel_order", {"order_id": order_id})
        if not isinstance(result, Mapping):
            raise _err("cancel_order", "answer is not an order")
        return order_from_json(result, "cancel_order")

    async def orders_by_label(self, label: str, *, historical: bool = False) -> list[BrokerOrder]:
        """Orders carrying exactly this label.

        Deribit lists an order as recent for about 30 minutes; ``historical`` also finds
        older ones (recovery after a long outage).
        """
        rows = await self._call(
            "orders_by_label", {"currency": "ETH", "label": label, "historical": historical}
        )
        if not isinstance(rows, list):
            raise _err("orders_by_label", "answer is not a list")
        return [order_from_json(r, "orders_by_label") for r in rows]

    async def open_orders(self) -> list[BrokerOrder]:
        """Our working orders."""
        rows = await self._call("open_orders", {"currency": "ETH"})
        if not isinstance(rows, list):
            raise _err("open_orders", "answer is not a list")
        return [order_from_json(r, "open_orders") for r in rows]

    async def trades_by_order(self, order_id: str) -> list[BrokerTrade]:
        """The fills of one order, read with ``historical``: Deribit lists trades as recent
        for 24 hours only, and a recovery may come later."""
        rows = await self._call("trades_by_order", {"order_id": order_id, "historical": True})
        if not isinstance(rows, list):
            raise _err("trades_by_order", "answer is not a list")
        return [trade_from_json(r) for r in rows]

    async def delivery_prices(self, count: int = 10) -> dict[str, Decimal]:
        """Recent daily delivery prices by date."""
        r = await self._call("delivery_prices", {"index_name": "eth_usd", "count": count})
        if not isinstance(r, Mapping) or not isinstance(r.get("data"), list):
            raise _err("delivery_prices", "answer without data")
        return {
            str(x["date"]): to_decimal(x.get("delivery_price"), "delivery_prices", "delivery_price")
            for x in r["data"]
        }
