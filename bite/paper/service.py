"""Every tool of the service contract, answered by the paper exchange (docs/service-contract.md).

Results follow Deribit's, Hyperliquid's and our own contract's shapes, so the
clients parse paper answers with the same code as real ones. Faults
(docs/paper-exchange.md 4) are applied here, on the server's side of the wire.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from bite.clock import iso_z
from bite.config.schema import SERVICE_NAMES, StrategyConfig
from bite.paper.chain import TICK_STEPS, summary_json, ticker_json
from bite.paper.exchange import PaperExchange, PaperRequestError
from bite.paper.market import (
    MarketSource,
)
from bite.paper.perpetual import PERPETUAL

PAPER_KEY_SCOPE = "trade:read_write account:read wallet:none"  # what a careful key holds


class Answer(NamedTuple):
    """What a tool call produced, before it becomes an HTTP response (a named tuple: one
    is made per call, three times as fast as a frozen dataclass)."""

    status: int
    body: Any
    timeout: bool = False
    lose_response: bool = False
    malformed: bool = False
    latency_ms: float = 0.0


@dataclass
class PaperService:
    """The four services of the contract, backed by the paper exchange."""

    cfg: StrategyConfig
    data_dir: Path
    market: MarketSource
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    durable: bool = True  # False: a backtest's throwaway account
    _used: dict[str, int] = field(default_factory=dict)
    _exchange: PaperExchange | None = None

    @property
    def exchange(self) -> PaperExchange:
        """The paper account (opened on first use)."""
        if self._exchange is None:
            self._exchange = PaperExchange(
                self.data_dir / "paper.sqlite",
                self.market,
                self.cfg.paper,
                self.cfg.fees,
                self.cfg.execution.combo_tick,
                durable=self.durable,
            )
        return self._exchange

    def close(self) -> None:
        """Close the paper account."""
        if self._exchange is not None:
            self._exchange.close()
            self._exchange = None

    # -- faults ---------------------------------------------------------------------------

    def _rule(self, service: str, tool: str) -> tuple[str, dict[str, Any]] | None:
        if not self.faults:
            return None
        for key in (f"{service}.{tool}", f"{service}.*"):
            if key in self.faults:
                return key, self.faults[key]
        return None

    def _consume(self, key: str, rule: dict[str, Any]) -> bool:
        """Whether the rule still applies (``times`` counts per process or persisted)."""
        times = rule.get("times")
        if times is None:
            return True
        if rule.get("persist"):
            conn = self.exchange.conn
            row = conn.execute("SELECT used FROM fault_counts WHERE key = ?", (key,)).fetchone()
            used = int(row[0]) if row else 0
            if used >= int(times):
                return False
            conn.execute(
                "INSERT INTO fault_counts VALUES (?, 1) ON CONFLICT (key) DO UPDATE "
                "SET used = used + 1",
                (key,),
            )
            return True
        used = self._used.get(key, 0)
        if used >= int(times):
            return False
        self._used[key] = used + 1
        return True

    def health(self, service: str) -> Answer:
        """``GET /{service}/health``, with any ``service.health`` or ``service.*`` fault."""
        found = self._rule(service, "health")
        rule = found[1] if found is not None and self._consume(*found) else {}
        if "error" in rule:
            return Answer(int(rule["error"]), {"error": {"code": "fault", "message": "down"}})
        if rule.get("timeout"):
            return Answer(504, None, timeout=True)
        return Answer(200, {"status": "ok", "environment": "paper"})

    def call(self, service: str, tool: str, args: dict[str, Any], now: datetime) -> Answer:
        """Answer one tool call at ``now``, with any fault that applies."""
        found = self._rule(service, tool)
        rule: dict[str, Any] = {}
        if found is not None and self._consume(*found):
            rule = found[1]
        if "error" in rule:
            code = int(rule["error"])
            return Answer(
                code, {"error": {"code": f"fault_{code}", "message": f"injected HTTP {code}"}}
            )
        if rule.get("timeout"):
            return Answer(504, None, timeout=True)
        try:
            body = self._dispatch(service, tool, args, now, rule)
        except PaperRequestError as exc:
            return Answer(400, {"error": {"code": "bad_request", "message": str(exc)}})
        except KeyError as exc:
            return Answer(
                400, {"error": {"code": "bad_request", "message": f"missing argument {exc}"}}
            )
        if body is _UNKNOWN:
            return Answer(404, {"error": {"code": "unknown_tool", "message": f"{service}.{tool}"}})
        return _faulted(body, rule)

    # -- tools ----------------------------------------------------------------------------

    def _dispatch(
        self, service: str, tool: str, args: dict[str, Any], now: datetime, rule: dict[str, Any]
    ) -> Any:
        handler = getattr(self, f"_{service}_{tool}", None) if service in SERVICE_NAMES else None
        if handler is None:
            return _UNKNOWN
        if tool == "environment":
            return {**handler(args, now), "environment": rule.get("environment", "paper")}
        return handler(args, now)

    def _deribit_environment(self, args: dict[str, Any], now: datetime) -> Any:
        return {"environment": "paper", "locked": False}

    def _deribit_combo_tick(self, args: dict[str, Any], now: datetime) -> Any:
        return {"tick_size": float(self.cfg.execution.combo_tick)}

    def _deribit_key_scope(self, args: dict[str, Any], now: datetime) -> Any:
        return {"scope": PAPER_KEY_SCOPE}

    def _deribit_index_price(self, args: dict[str, Any], now: datetime) -> Any:
        index = round(self.market.index_and_dvol(now)[0], 2)
        return {"index_price": index, "estimated_delivery_price": index}

    def _deribit_dvol(self, args: dict[str, Any], now: datetime) -> Any:
        start = datetime.fromtimestamp(int(args["start_timestamp"]) / 1000, tz=UTC)
        end = min(datetime.fromtimestamp(int(args["end_timestamp"]) / 1000, tz=UTC), now)
        step = _resolution_s(str(args.get("resolution", "3600")))
        points: list[list[float]] = []
        first = math.ceil(start.timestamp() / step) * step
        t = first
        while t <= end.timestamp() and len(points) < 1000:
            at = datetime.fromtimestamp(t, tz=UTC)
            v = round(self.market.index_and_dvol(at)[1], 2)
            points.append([int(t * 1000), v, v, v, v])
            t += step
        return {"data": points, "continuation": None}

    def _deribit_candles(self, args: dict[str, Any], now: datetime) -> Any:
        start = datetime.fromtimestamp(int(args["start_timestamp"]) / 1000, tz=UTC)
        end = min(datetime.fromtimestamp(int(args["end_timestamp"]) / 1000, tz=UTC), now)
        step = _resolution_s(str(args.get("resolution", "60")), minutes=True)
        ticks: list[int] = []
        opens: list[float] = []
        closes: list[float] = []
        t = math.ceil(start.timestamp() / step) * step
        while t <= end.timestamp() and len(ticks) < 5000:
            open_at = datetime.fromtimestamp(t, tz=UTC)
            close_at = min(open_at + timedelta(seconds=step), now)
            ticks.append(int(t * 1000))
            opens.append(round(self.market.index_and_dvol(open_at)[0] * 1.0002, 2))
            closes.append(round(self.market.index_and_dvol(close_at)[0] * 1.0002, 2))
            t += step
        highs = [max(o, c) for o, c in zip(opens, closes, strict=True)]
        lows = [min(o, c) for o, c in zip(opens, closes, strict=True)]
        return {
            "ticks": ticks,
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": [1000.0] * len(ticks),
            "status": "ok" if ticks else "no_data",
        }

    def _deribit_instruments(self, args: dict[str, Any], now: datetime) -> Any:
        chain = self.exchange.chain(now)
        first, last = _window(args)
        return [
            {
                "instrument_name": x.name,
                "kind": "option",
                "strike": float(x.strike),
                "option_type": x.option_type,
                "expiration_timestamp": int(x.expiry.timestamp() * 1000),
                "tick_size": 0.0001,
                "tick_size_steps": TICK_STEPS,
                "min_trade_amount": 1,
                "contract_size": 1,
                "is_active": True,
                "settlement_period": x.settlement_period,
                "base_currency": "ETH",
                "quote_currency": "ETH",
                "counter_currency": "USD",
                "settlement_currency": "ETH",
                "instrument_type": "reversed",
            }
            for x in chain.listings.values()
            if first <= x.expiry_ms <= last
        ]

    def _deribit_book_summary(self, args: dict[str, Any], now: datetime) -> Any:
        chain = self.exchange.chain(now)
        index = round(chain.state.index, 2)
        stamp = int(now.timestamp() * 1000)
        first, last = _window(args)
        return [
            summary_json(q, index, stamp)
            for name, listing in chain.listings.items()
            if first <= listing.expiry_ms <= last and (q := chain.quote(name)) is not None
        ]

    def _deribit_ticker(self, args: dict[str, Any], now: datetime) -> Any:
        if str(args["instrument_name"]) == PERPETUAL:
            return self.exchange.perp_ticker(now)
        chain = self.exchange.chain(now)
        q = chain.quote(str(args["instrument_name"]))
        if q is None:
            raise PaperRequestError(f"instrument {args['instrument_name']} not listed")
        return ticker_json(q, round(chain.state.index, 2), int(now.timestamp() * 1000))

    def _deribit_account_summary(self, args: dict[str, Any], now: datetime) -> Any:
        return self.exchange.account_summary(now)

    def _deribit_positions(self, args: dict[str, Any], now: datetime) -> Any:
        self.exchange.touch(now)
        kind = str(args.get("kind", "option"))  # as Deribit: the kind asked for (any: all)
        positions = [p for p in self.exchange.positions() if kind in ("any", p["kind"])]
        extra = self.faults.get("broker.unknown_position")
        if extra:
            positions.append(
                {
                    "instrument_name": extra.get("instrument_name", "ETH-X-1-P"),
                    "size": float(extra.get("size", -1)),
                    "kind": "option",
                    "direction": "sell" if float(extra.get("size", -1)) < 0 else "buy",
                    "average_price": float(extra.get("average_price", 0.01)),
                }
            )
        return positions

    def _deribit_margin_estimate(self, args: dict[str, Any], now: datetime) -> Any:
        margin = self.exchange.order_margin(list(args["legs"]), int(args["amount"]), now)
        return {
            "initial_margin": float(margin),
            "maintenance_margin": float(margin * 3 / 4),
            "currency": "ETH",
        }

    def _deribit_place_combo_order(self, args: dict[str, Any], now: datetime) -> Any:
        return self.exchange.place_combo_order(
            list(args["legs"]),
            str(args["side"]),
            args["amount"],
            args["price"],
            str(args["label"]),
            now,
        )

    def _deribit_place_order(self, args: dict[str, Any], now: datetime) -> Any:
        return self.exchange.place_order(
            str(args["instrument_name"]),
            str(args["side"]),
            args["amount"],
            args["price"],
            str(args["label"]),
            now,
        )

    def _deribit_position(self, args: dict[str, Any], now: datetime) -> Any:
        if str(args["instrument_name"]) != PERPETUAL:
            raise PaperRequestError(f"position: only {PERPETUAL} is a single position here")
        self.exchange.touch(now)
        return self.exchange.perp_position(now)

    def _deribit_edit_order(self, args: dict[str, Any], now: datetime) -> Any:
        return self.exchange.edit_order(str(args["order_id"]), args["price"], now)

    def _deribit_cancel_order(self, args: dict[str, Any], now: datetime) -> Any:
        return self.exchange.cancel_order(str(args["order_id"]), now)

    def _deribit_orders_by_label(self, args: dict[str, Any], now: datetime) -> Any:
        historical = bool(args.get("historical", False))
        return self.exchange.orders_by_label(str(args["label"]), now, historical=historical)

    def _deribit_open_orders(self, args: dict[str, Any], now: datetime) -> Any:
        return self.exchange.open_orders(now)

    def _deribit_trades_by_order(self, args: dict[str, Any], now: datetime) -> Any:
        historical = bool(args.get("historical", False))
        return self.exchange.trades_by_order(str(args["order_id"]), now, historical=historical)

    def _deribit_delivery_prices(self, args: dict[str, Any], now: datetime) -> Any:
        return {"data": self.exchange.delivery_prices(now, int(args.get("count", 10)))}

    def _hyperliquid_funding(self, args: dict[str, Any], now: datetime) -> Any:
        hour = now.replace(minute=0, second=0, microsecond=0)
        state = self.market.state(hour)
        return {
            "coin": args.get("coin", "ETH"),
            "funding_hourly": round(state.funding_hourly, 10),
            "mark_px": round(state.index, 2),
            "open_interest": 600000.0,
            "time": int(hour.timestamp() * 1000),
        }

    def _hyperliquid_account_value(self, args: dict[str, Any], now: datetime) -> Any:
        return {"account_value_usd": 0.0}

    def _macro_eur_usd_rate(self, args: dict[str, Any], now: datetime) -> Any:
        day = now.date() if now.hour >= 15 else now.date() - timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        published = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
        return {"rate": round(self.market.state(published).eur_usd, 4), "time": iso_z(published)}

    def _macro_asset_price(self, args: dict[str, Any], now: datetime) -> Any:
        symbol = str(args.get("symbol", "ETH")).upper()
        price = self.market.state(now).index if symbol == "ETH" else 1.0
        return {"symbol": symbol, "price_usd": round(price, 2), "time": iso_z(now)}

    def _macro_calendar(self, args: dict[str, Any], now: datetime) -> Any:
        start = _parse_time(args["from"])
        end = _parse_time(args["to"])
        rank = {"low": 0, "medium": 1, "high": 2}
        floor = rank.get(str(args.get("min_impact", "low")), 0)
        return [
            {"name": e.name, "time": iso_z(e.time), "impact": e.impact, "country": e.country}
            for e in self.market.calendar(start, end)
            if rank[e.impact] >= floor
        ]

    def _sentiment_fear_greed(self, args: dict[str, Any], now: datetime) -> Any:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        value = self.market.state(day).fear_greed
        return {"value": value, "classification": _classify(value), "time": iso_z(day)}


_UNKNOWN = object()


def _faulted(body: Any, rule: dict[str, Any]) -> Answer:
    """A body's answer with what the fault rule does to it (nothing without one)."""
    if not rule:  # no fault applies (always, outside fault tests)
        return Answer(200, body)
    if "override" in rule and isinstance(body, dict):
        body = _override(body, rule["override"])
    elif "override" in rule and isinstance(body, list):
        body = [_override(row, rule["override"]) if isinstance(row, dict) else row for row in body]
    return Answer(
        200,
        body,
        lose_response=bool(rule.get("lose_response")),
        malformed=bool(rule.get("malformed")),
        latency_ms=float(rule.get("latency_ms", 0)),
    )


def _override(body: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    for key, value in fields.items():
        if key in out or not any(isinstance(v, dict) and key in v for v in out.values()):
            out[key] = value
        for nested in out.values():
            if isinstance(nested, dict) and key in nested:
                nested[key] = value
    return out


def _resolution_s(value: str, *, minutes: bool = False) -> int:
    if value.upper() == "1D":
        return 86400
    number = int(value)
    return number * 60 if minutes else number


def _parse_time(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _classify(value: int) -> str:
    if value < 25:
        return "Extreme Fear"
    if value < 45:
        return "Fear"
    if value <= 55:
        return "Neutral"
    if value <= 75:
        return "Greed"
    return "Extreme Greed"


def _window(args: dict[str, Any]) -> tuple[int, int]:
    """The expiry window hint of ``instruments`` and ``book_summary`` (ms; all when absent)."""
    return int(args.get("expiry_from", 0)), int(args.get("expiry_to", 2**62))
