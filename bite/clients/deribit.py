"""The broker client: every deribit tool of the contract, parsed into core types.

Parsers are pure ``x_to_y`` functions from the vendor's JSON (Deribit API v2
shapes, so real responses parse too). Values the cycle uses are checked for
anomalies (strategy.md 11) and raise :class:`McpDataAnomalyError`; an anomalous
row of the chain is dropped and counted instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bite.clients._exceptions import McpDataAnomalyError, McpProtocolError, McpRequestError
from bite.clients._fields import Fields
from bite.clients._http import McpHttp
from bite.clock import Clock
from bite.config.schema import AnomalyConfig
from bite.core.anomaly import dvol_anomalies, index_anomalies, quote_anomalies
from bite.core.types import DailyClose, Greeks, OptionQuote, OptionType, TickSchedule

SERVICE = "deribit"
log = logging.getLogger("bite.deribit")


_fields = Fields(SERVICE)
_err = _fields.error
to_decimal = _fields.decimal
to_float = _fields.number
optional_price = _fields.book_price
ms_to_time = _fields.ms_time


@dataclass(frozen=True)
class Instrument:
    """An option as ``instruments`` lists it."""

    name: str
    strike: Decimal
    option_type: OptionType
    expiry: datetime
    ticks: TickSchedule
    min_trade_amount: Decimal
    is_active: bool


def instrument_to_info(row: Mapping[str, Any]) -> Instrument:
    """One ``public/get_instruments`` row."""
    tool = "instruments"
    try:
        name = str(row["instrument_name"])
        kind = row["option_type"]
        steps_raw = row.get("tick_size_steps") or []
        steps = tuple(
            (
                to_decimal(s["above_price"], tool, "above_price"),
                to_decimal(s["tick_size"], tool, "tick_size"),
            )
            for s in steps_raw
        )
    except (KeyError, TypeError):
        raise _err(tool, "row without instrument_name, option_type or tick steps") from None
    if kind not in ("call", "put"):
        raise _err(tool, f"{name}: option_type {kind!r}")
    return Instrument(
        name=name,
        strike=to_decimal(row.get("strike"), tool, "strike"),
        option_type=kind,
        expiry=ms_to_time(row.get("expiration_timestamp"), tool, "expiration_timestamp"),
        ticks=TickSchedule(to_decimal(row.get("tick_size"), tool, "tick_size"), steps),
        min_trade_amount=to_decimal(row.get("min_trade_amount", 1), tool, "min_trade_amount"),
        is_active=bool(row.get("is_active", True)),
    )


def summary_row_to_quote(
    row: Mapping[str, Any], instrument: Instrument, received: datetime
) -> OptionQuote:
    """One ``get_book_summary_by_currency`` row (no greeks, no amounts)."""
    tool = "book_summary"
    stamp = row.get("creation_timestamp")
    return OptionQuote(
        name=instrument.name,
        strike=instrument.strike,
        option_type=instrument.option_type,
        expiry=instrument.expiry,
        bid=optional_price(row.get("bid_price"), tool, "bid_price"),
        ask=optional_price(row.get("ask_price"), tool, "ask_price"),
        mark=to_decimal(row.get("mark_price"), tool, "mark_price"),
        mark_iv=to_float(row.get("mark_iv"), tool, "mark_iv"),
        forward=to_decimal(row.get("underlying_price"), tool, "underlying_price"),
        open_interest=to_float(row.get("open_interest", 0), tool, "open_interest"),
        timestamp=ms_to_time(stamp, tool, "creation_timestamp") if stamp else received,
        ticks=instrument.ticks,
    )


def ticker_to_quote(result: Mapping[str, Any], instrument: Instrument) -> OptionQuote:
    """A ``public/ticker`` result, with amounts and greeks."""
    tool = "ticker"
    greeks_raw = result.get("greeks")
    greeks = None
    if isinstance(greeks_raw, Mapping):
        greeks = Greeks(
            delta=to_float(greeks_raw.get("delta"), tool, "greeks.delta"),
            gamma=to_float(greeks_raw.get("gamma", 0), tool, "greeks.gamma"),
            vega=to_float(greeks_raw.get("vega", 0), tool, "greeks.vega"),
            theta=to_float(greeks_raw.get("theta", 0), tool, "greeks.theta"),
        )
    bid = optional_price(result.get("best_bid_price"), tool, "best_bid_price")
    ask = optional_price(result.get("best_ask_price"), tool, "best_ask_price")
    return OptionQuote(
        name=instrument.name,
        strike=instrument.strike,
        option_type=instrument.option_type,
        expiry=instrument.expiry,
        bid=bid,
        ask=ask,
        mark=to_decimal(result.get("mark_price"), tool, "mark_price"),
        mark_iv=to_float(result.get("mark_iv"), tool, "mark_iv"),
        forward=to_decimal(result.get("underlying_price"), tool, "underlying_price"),
        open_interest=to_float(result.get("open_interest", 0), tool, "open_interest"),
        timestamp=ms_to_time(result.get("timestamp"), tool, "timestamp"),
        bid_amount=to_float(result.get("best_bid_amount") or 0, tool, "best_bid_amount")
        if bid is not None
        else 0.0,
        ask_amount=to_float(result.get("best_ask_amount") or 0, tool, "best_ask_amount")
        if ask is not None
        else 0.0,
        greeks=greeks,
        ticks=instrument.ticks,
    )


@dataclass(frozen=True)
class ChainSnapshot:
    """The chain from one ``book_summary`` call: usable quotes and what was dropped."""

    quotes: tuple[OptionQuote, ...]
    dropped_anomalous: int
    dropped_unlisted: int


def summary_to_chain(
    rows: Sequence[Mapping[str, Any]],
    instruments: Mapping[str, Instrument],
    received: datetime,
    anomaly: AnomalyConfig,
) -> ChainSnapshot:
    """Every listed, plausible option of a book summary; anomalous rows dropped and counted."""
    quotes: list[OptionQuote] = []
    anomalous = unlisted = 0
    for row in rows:
        instrument = instruments.get(str(row.get("instrument_name")))
        if instrument is None or not instrument.is_active:
            unlisted += 1
            continue
        try:
            q = summary_row_to_quote(row, instrument, received)
        except McpProtocolError:
            anomalous += 1
            continue
        if quote_anomalies(q, anomaly):
            anomalous += 1
            continue
        quotes.append(q)
    return ChainSnapshot(tuple(quotes), anomalous, unlisted)


@dataclass(frozen=True)
class BrokerOrder:
    """An order in the contract's orientation."""

    order_id: str
    label: str
    state: str
    direction: str
    amount: int
    filled_amount: int
    price: Decimal
    average_price: Decimal | None
    reject_reason: str | None
    created: datetime | None


def order_from_json(row: Mapping[str, Any], tool: str = "order") -> BrokerOrder:
    """A Deribit order object."""
    try:
        order_id = str(row["order_id"])
        state = str(row["order_state"])
    except (KeyError, TypeError):
        raise _err(tool, "order without order_id or order_state") from None
    if state not in ("open", "filled", "rejected", "cancelled", "untriggered"):
        raise _err(tool, f"order_state {state!r}")
    average = row.get("average_price")
    created = row.get("creation_timestamp")
    return BrokerOrder(
        order_id=order_id,
        label=str(row.get("label") or ""),
        state=state,
        direction=str(row.get("direction", "")),
        amount=int(to_decimal(row.get("amount"), tool, "amount")),
        filled_amount=int(to_decimal(row.get("filled_amount", 0), tool, "filled_amount")),
        price=to_decimal(row.get("price"), tool, "price"),
        average_price=to_decimal(average, tool, "average_price") if average else None,
        reject_reason=row.get("reject_reason"),
        created=ms_to_time(created, tool, "creation_timestamp") if created else None,
    )


@dataclass(frozen=True)
class BrokerTrade:
    """One fill of one leg."""

    trade_id: str
    order_id: str
    instrument_name: str
    direction: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: datetime


def trade_from_json(row: Mapping[str, Any], tool: str = "trades_by_order") -> BrokerTrade:
    """A Deribit user trade."""
    try:
        trade_id = str(row["trade_id"])
        instrument = str(row["instrument_name"])
    except (KeyError, TypeError):
        raise _err(tool, "trade without trade_id or instrument_name") from None
    return BrokerTrade(
        trade_id=trade_id,
        order_id=str(row.get("order_id", "")),
        instrument_name=instrument,
        direction=str(row.get("direction", "")),
        amount=to_decimal(row.get("amount"), tool, "amount"),
        price=to_decimal(row.get("price"), tool, "price"),
        fee=to_decimal(row.get("fee", 0), tool, "fee"),
        fee_currency=str(row.get("fee_currency", "ETH")),
        timestamp=ms_to_time(row.get("timestamp"), tool, "timestamp"),
    )


@dataclass(frozen=True)
class OrderResult:
    """An order and the trades that came with the answer."""

    order: BrokerOrder
    trades: tuple[BrokerTrade, ...]


def order_result_from_json(result: Any, tool: str) -> OrderResult:
    """``{"order": {...}, "trades": [...]}`` (``private/buy``, ``private/edit``)."""
    if not isinstance(result, Mapping) or "order" not in result:
        raise _err(tool, "answer without an order")
    trades = result.get("trades") or []
    return OrderResult(
        order_from_json(result["order"], tool), tuple(trade_from_json(t, tool) for t in trades)
    )


@dataclass(frozen=True)
class AccountSummary:
    """The broker account in ETH."""

    equity: Decimal
    available_funds: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    time: datetime


@dataclass(frozen=True)
class BrokerPosition:
    """One instrument held at the broker (size negative when short)."""

    instrument_name: str
    size: Decimal
    average_price: Decimal


@dataclass(frozen=True)
class Candles:
    """OHLC candles: parallel tuples."""

    ticks: tuple[datetime, ...]
    close: tuple[Decimal, ...]


def candles_from_json(result: Any) -> Candles:
    """``public/get_tradingview_chart_data``."""
    tool = "candles"
    if not isinstance(result, Mapping) or "ticks" not in result or "close" not in result:
        raise _err(tool, "answer without ticks and close")
    ticks = tuple(ms_to_time(t, tool, "ticks") for t in result["ticks"])
    closes = tuple(to_decimal(c, tool, "close") for c in result["close"])
    if len(ticks) != len(closes):
        raise _err(tool, "ticks and close differ in length")
    return Candles(ticks, closes)


def daily_closes(candles: Candles, now: datetime) -> tuple[DailyClose, ...]:
    """Closes of completed UTC days only (today's partial candle excluded)."""
    today = now.date()
    return tuple(
        DailyClose(t.date(), c)
        for t, c in zip(candles.ticks, candles.close, strict=True)
        if t.date() < today and t + timedelta(days=1) <= now
    )


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
        result = await self._call("environment")
        env = result.get("environment") if isinstance(result, Mapping) else None
        if env not in ("paper", "testnet", "mainnet"):
            raise _err("environment", f"unknown environment {env!r}")
        return str(env)

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

    async def instruments(self, *, refresh: bool = False) -> dict[str, Instrument]:
        """Active ETH options by name; asked once, again only when a name is missing.

        A one-shot job asks once; a long-lived run (a backtest) refreshes when the book
        or a ticker request names an instrument listed after the last answer.
        """
        if self._instruments is None or refresh:
            rows = await self._call(
                "instruments", {"currency": "ETH", "kind": "option", "expired": False}
            )
            if not isinstance(rows, list):
                raise _err("instruments", "answer is not a list")
            options = [
                r for r in rows if isinstance(r, Mapping) and r.get("kind", "option") == "option"
            ]
            self._instruments = {i.name: i for i in map(instrument_to_info, options)}
        return self._instruments

    async def chain(self) -> ChainSnapshot:
        """The whole chain from ``book_summary`` + ``instruments`` (two calls, no fan-out)."""
        instruments = await self.instruments()
        rows = await self._call("book_summary", {"currency": "ETH", "kind": "option"})
        if not isinstance(rows, list):
            raise _err("book_summary", "answer is not a list")
        if any(str(r.get("instrument_name")) not in instruments for r in rows):
            instruments = await self.instruments(refresh=True)  # a listing newer than the cache
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

    async def edit_order(self, order_id: str, price: Decimal) -> OrderResult:
        """Move an order's price: never retried."""
        result = await self._call(
            "edit_order", {"order_id": order_id, "price": str(price)}, retry=False
        )
        return order_result_from_json(result, "edit_order")

    async def cancel_order(self, order_id: str) -> BrokerOrder:
        """Cancel (idempotent, retried like a read); the answer is the order's final state."""
        result = await self._call("cancel_order", {"order_id": order_id})
        if not isinstance(result, Mapping):
            raise _err("cancel_order", "answer is not an order")
        return order_from_json(result, "cancel_order")

    async def orders_by_label(self, label: str) -> list[BrokerOrder]:
        """Orders carrying exactly this label."""
        rows = await self._call("orders_by_label", {"currency": "ETH", "label": label})
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
        """The fills of one order."""
        rows = await self._call("trades_by_order", {"order_id": order_id})
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
