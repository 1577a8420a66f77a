"""Hyperliquid, the ECB, Fear & Greed and the operator's calendar file, behind the clients.

Like the Deribit connector, an httpx transport answers the contract's tools for
``hyperliquid``, ``macro`` and ``sentiment`` from their public sources, so the
clients and the jobs stay unchanged:

- hyperliquid ``funding``: ``POST https://api.hyperliquid.xyz/info``: the rate and its
  time from the last ``{"type": "fundingHistory"}`` row, the mark and open interest
  from ``{"type": "metaAndAssetCtxs"}`` (ETH found by name); ``account_value``:
  ``{"type": "clearinghouseState", "user"}`` (0 without ``user_address``, said once);
- macro ``eur_usd_rate``: the ECB's euro reference rates (``eurofxref-daily.xml``),
  dated by their day at 16:00 CET and kept until the next working day's publication
  is due; ``calendar`` and ``calendar_horizon``: the operator's calendar file;
- macro ``asset_price``: the Deribit index (``public/get_index_price``, ``eth_usd``);
- sentiment ``fear_greed``: ``https://api.alternative.me/fng/?limit=1``.

Each source's address is overridable by its service's ``url`` (tests use 127.0.0.1).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import yaml

from bite.clients.direct.jsonrpc import MAINNET
from bite.clients.hyperliquid import funding_from_meta_and_ctxs
from bite.clock import Clock, iso_z
from bite.core.types import MacroEvent

HYPERLIQUID = "https://api.hyperliquid.xyz/info"
ECB = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
ECB_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
ECB_MAX_BYTES = 64 * 1024
FEAR_GREED = "https://api.alternative.me/fng/"
RANK = {"low": 0, "medium": 1, "high": 2}
FUNDING_LOOKBACK = timedelta(hours=6)  # hourly funding: the last row is within the hour
log = logging.getLogger("bite.public_sources")


class SourceError(Exception):
    """A public source answered out of shape (a protocol error for the client)."""


class SourceEmptyError(Exception):
    """A public source answered in shape but has no value yet (unavailable: retry later)."""


def read_calendar(path: Path) -> list[MacroEvent]:
    """The operator's calendar file: ``events: [{name, time, impact, country}]``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourceError(f"{path}: cannot read the calendar ({exc})") from None
    rows = data.get("events") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise SourceError(f"{path}: needs a list under events:")
    events = []
    for index, row in enumerate(rows, start=1):
        try:
            when = datetime.fromisoformat(str(row["time"]).replace("Z", "+00:00"))
            impact = str(row.get("impact", "high"))
            if impact not in RANK:
                raise ValueError(impact)
        except (KeyError, TypeError, ValueError):
            raise SourceError(f"{path}: event {index} needs time and impact") from None
        events.append(
            MacroEvent(
                str(row.get("name", "event")),
                when if when.tzinfo else when.replace(tzinfo=UTC),
                impact,  # type: ignore[arg-type]
                str(row.get("country", "")),
            )
        )
    return sorted(events, key=lambda e: e.time)


def ecb_rate(body: bytes) -> tuple[float, date]:
    """(USD per EUR, the rates' day) from ``eurofxref-daily.xml``."""
    if len(body) > ECB_MAX_BYTES or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        # the daily file is ~2 KB without a DTD: anything else is not it (and no entity
        # expansion ever reaches the parser)
        raise SourceError("ECB answer is not the reference-rates file")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 (no DTD, bounded size: see above)
    except ElementTree.ParseError:
        raise SourceError("ECB answer is not XML") from None
    for day in root.iter(f"{ECB_NS}Cube"):
        if "time" not in day.attrib:
            continue
        for rate in day:
            if rate.get("currency") == "USD":
                try:
                    return float(rate.attrib["rate"]), date.fromisoformat(day.attrib["time"])
                except (KeyError, ValueError):
                    break
    raise SourceError("ECB answer has no dated USD rate")


def ecb_published(day: date) -> datetime:
    """When the rates of ``day`` are dated: 16:00 CET (15:00 UTC)."""
    return datetime(day.year, day.month, day.day, 15, tzinfo=UTC)


def ecb_next_due(day: date) -> datetime:
    """The next working day's publication after the rates of ``day``."""
    following = day + timedelta(days=1)
    while following.weekday() >= 5:
        following += timedelta(days=1)
    return ecb_published(following)


Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class PublicSourcesTransport(httpx.AsyncBaseTransport):
    """The contract's hyperliquid, macro and sentiment tools from public sources."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        hyperliquid_url: str = HYPERLIQUID,
        ecb_url: str = ECB,
        fear_greed_url: str = FEAR_GREED,
        deribit_public_url: str = MAINNET,
        user_address: str | None = None,
        calendar_file: Path | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.hyperliquid_url = hyperliquid_url
        self.ecb_url = ecb_url
        self.fear_greed_url = fear_greed_url
        self.deribit_public_url = deribit_public_url.rstrip("/")
        self.user_address = user_address
        self.calendar_file = calendar_file
        self._ecb: tuple[float, date] | None = None
        self._calendar: list[MacroEvent] | None = None
        self._no_address_said = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Route ``/{service}/tools/{tool}`` and ``/{service}/health``."""
        parts = [p for p in request.url.path.split("/") if p]
        service, tool = (parts[0], parts[-1]) if parts else ("", "")
        try:
            if tool == "health":
                await self._health(service)
                return httpx.Response(200, json={"status": "ok"})
            handler: Handler | None = getattr(self, f"_{service}_{tool}", None)
            if handler is None:
                return _error(404, "unknown_tool", f"{service}.{tool}")
            args = json.loads(request.content or b"{}")
            return httpx.Response(200, json=await handler(args))
        except SourceError as exc:  # a 200 whose body is not JSON: a protocol error
            return httpx.Response(200, content=f"out of shape: {exc}".encode())
        except SourceEmptyError as exc:
            return _error(503, "no_value", f"{service}.{tool}: {exc}")
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            return _error(
                503 if status >= 500 or status == 429 else 400,
                str(status),
                f"{service} answered HTTP {status}",
            )

    async def _health(self, service: str) -> None:
        if service == "hyperliquid":
            await self._post_info({"type": "meta"})
        elif service == "macro":
            if self.calendar_file is not None:
                self._events()
            await self._ecb_rate()
        elif service == "sentiment":
            await self._get(self.fear_greed_url, {"limit": 1})

    async def _get(self, url: str, params: dict[str, Any]) -> Any:
        response = await self.client.get(url, params=params, timeout=10)
        response.raise_for_status()
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SourceError(f"{url} did not answer JSON") from None

    async def _ecb_rate(self) -> tuple[float, date]:
        """The day's reference rate, fetched again only once the next one may be out."""
        if self._ecb is None or self.clock.now() >= ecb_next_due(self._ecb[1]):
            response = await self.client.get(self.ecb_url, timeout=10)
            response.raise_for_status()
            self._ecb = ecb_rate(response.content)
        return self._ecb

    async def _post_info(self, body: dict[str, Any]) -> Any:
        response = await self.client.post(self.hyperliquid_url, json=body, timeout=10)
        response.raise_for_status()
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SourceError("hyperliquid did not answer JSON") from None

    async def _hyperliquid_funding(self, args: dict[str, Any]) -> Any:
        """The rate and its time from the last ``fundingHistory`` row (the last funding
        actually paid: ``metaAndAssetCtxs`` carries no time, so its rate could be of any
        age); the mark and the open interest from ``metaAndAssetCtxs``."""
        coin = str(args.get("coin", "ETH"))
        now = self.clock.now()
        start = int((now - FUNDING_LOOKBACK).timestamp() * 1000)
        history = await self._post_info(
            {"type": "fundingHistory", "coin": coin, "startTime": start}
        )
        try:
            rows = [row for row in history if row.get("coin") == coin]
            if not rows:
                raise SourceEmptyError(f"no {coin} funding in the last {FUNDING_LOOKBACK}")
            last = max(rows, key=lambda row: int(row["time"]))
            rate = float(last["fundingRate"])
            stamp = int(last["time"])
        except (TypeError, KeyError, ValueError, AttributeError):
            raise SourceError("fundingHistory rows without coin, fundingRate and time") from None
        try:
            funding = funding_from_meta_and_ctxs(
                await self._post_info({"type": "metaAndAssetCtxs"}), coin, now
            )
        except Exception as exc:
            raise SourceError(str(exc)) from None
        return {
            "coin": coin,
            "funding_hourly": rate,
            "mark_px": float(funding.mark_px),
            "open_interest": float(funding.open_interest),
            "time": stamp,
        }

    async def _hyperliquid_account_value(self, args: dict[str, Any]) -> Any:
        if not self.user_address:
            if not self._no_address_said:
                log.info("services.hyperliquid.user_address is not set: account value 0")
                self._no_address_said = True
            return {"account_value_usd": 0.0}
        state = await self._post_info({"type": "clearinghouseState", "user": self.user_address})
        try:
            return {"account_value_usd": float(state["marginSummary"]["accountValue"])}
        except (KeyError, TypeError, ValueError):
            raise SourceError("clearinghouseState without marginSummary") from None

    async def _macro_eur_usd_rate(self, args: dict[str, Any]) -> Any:
        rate, day = await self._ecb_rate()
        return {"rate": rate, "time": iso_z(ecb_published(day))}

    async def _macro_asset_price(self, args: dict[str, Any]) -> Any:
        symbol = str(args.get("symbol", "ETH")).upper()
        body = await self._get(
            f"{self.deribit_public_url}/public/get_index_price",
            {"index_name": f"{symbol.lower()}_usd"},
        )
        try:
            price = float(body["result"]["index_price"])
            stamp = datetime.fromtimestamp(int(body["usOut"]) / 1_000_000, tz=UTC)
        except (KeyError, TypeError, ValueError):
            raise SourceError("deribit index answer without result.index_price") from None
        return {"symbol": symbol, "price_usd": price, "time": iso_z(stamp)}

    def _events(self) -> list[MacroEvent]:
        """The calendar file, read once per run (a job asks for it more than once)."""
        if self.calendar_file is None:
            raise SourceError("services.macro.calendar_file is not set")
        if self._calendar is None:
            self._calendar = read_calendar(self.calendar_file)
        return self._calendar

    async def _macro_calendar(self, args: dict[str, Any]) -> Any:
        start = datetime.fromisoformat(str(args["from"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(args["to"]).replace("Z", "+00:00"))
        floor = RANK.get(str(args.get("min_impact", "low")), 0)
        return [
            {"name": e.name, "time": iso_z(e.time), "impact": e.impact, "country": e.country}
            for e in self._events()
            if start <= e.time <= end and RANK[e.impact] >= floor
        ]

    async def _macro_calendar_horizon(self, args: dict[str, Any]) -> Any:
        events = self._events()  # sorted by time: the last of each name wins
        return {"last_by_name": {e.name: iso_z(e.time) for e in events}}

    async def _sentiment_fear_greed(self, args: dict[str, Any]) -> Any:
        body = await self._get(self.fear_greed_url, {"limit": 1})
        try:
            row = body["data"][0]
            stamp = datetime.fromtimestamp(int(row["timestamp"]), tz=UTC)
            return {
                "value": int(row["value"]),
                "classification": str(row.get("value_classification", "")),
                "time": iso_z(stamp),
            }
        except (KeyError, IndexError, TypeError, ValueError):
            raise SourceError("fear & greed answer without data[0]") from None


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})
