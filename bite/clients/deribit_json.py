"""Deribit API v2 JSON into core and broker types: pure ``x_to_y`` parsers.

Real Deribit answers parse as they are (the contract's results follow Deribit's
shapes). A malformed field is a protocol error of the deribit service; values the
cycle uses are checked for anomalies (docs/strategy.md 11) where they are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bite.clients._fields import Fields
from bite.config.schema import AnomalyConfig
from bite.core.anomaly import quote_anomalies
from bite.core.hedge import PerpPosition, PerpQuote
from bite.core.types import DailyClose, Greeks, OptionQuote, OptionType, TickSchedule
from bite.errors import McpProtocolError

SERVICE = "deribit"

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


def perp_quote_from_json(row: Mapping[str, Any]) -> PerpQuote:
    """A perpetual's ``public/ticker``: index, mark, touch and the 8-hour funding rate."""
    tool = "ticker"
    bid = _fields.book_price(row.get("best_bid_price"), tool, "best_bid_price")
    ask = _fields.book_price(row.get("best_ask_price"), tool, "best_ask_price")
    if bid is None or ask is None:
        raise _fields.error(tool, "the perpetual has an empty side")
    return PerpQuote(
        instrument_name=str(row.get("instrument_name", "")),
        index=_fields.decimal(row.get("index_price"), tool, "index_price"),
        mark=_fields.decimal(row.get("mark_price"), tool, "mark_price"),
        bid=bid,
        ask=ask,
        funding_8h=_fields.decimal(row.get("funding_8h", 0), tool, "funding_8h"),
    )


def perp_position_from_json(row: Mapping[str, Any]) -> PerpPosition:
    """``private/get_position`` of a future: size in USD, negative when short."""
    tool = "position"
    return PerpPosition(
        instrument_name=str(row.get("instrument_name", "")),
        size_usd=_fields.decimal(row.get("size", 0), tool, "size"),
        average_price=_fields.decimal(row.get("average_price", 0), tool, "average_price"),
        floating_pnl_eth=_fields.decimal(
            row.get("floating_profit_loss", 0), tool, "floating_profit_loss"
        ),
        realized_pnl_eth=_fields.decimal(
            row.get("realized_profit_loss", 0), tool, "realized_profit_loss"
        ),
        realized_funding_eth=_fields.decimal(
            row.get("realized_funding", 0), tool, "realized_funding"
        ),
        initial_margin_eth=_fields.decimal(row.get("initial_margin", 0), tool, "initial_margin"),
    )
