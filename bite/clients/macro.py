"""EUR/USD, asset prices and the macro calendar."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bite.clients._fields import Fields
from bite.clients._http import McpHttp
from bite.core.types import MacroEvent
from bite.errors import McpProtocolError

SERVICE = "macro"
_fields = Fields(SERVICE)


def iso_to_time(value: Any, tool: str, name: str, service: str = SERVICE) -> datetime:
    """An ISO-8601 time (a naive one is UTC), or a millisecond timestamp."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise McpProtocolError(service, tool, f"{name} is not a time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CalendarHorizon:
    """How far the operator's calendar file reaches: its last event, and each name's."""

    last_by_name: dict[str, datetime]

    @property
    def last_event(self) -> datetime | None:
        """The file's last event of any kind."""
        return max(self.last_by_name.values(), default=None)


@dataclass(frozen=True)
class Rate:
    """USD per EUR, and when it was published."""

    rate: Decimal
    time: datetime


def rate_from_json(result: Any) -> Rate:
    """The contract's ``eur_usd_rate`` result."""
    if not isinstance(result, Mapping):
        raise McpProtocolError(SERVICE, "eur_usd_rate", "answer is not an object")
    rate = _fields.decimal(result.get("rate"), "eur_usd_rate", "rate")
    if not Decimal("0.5") < rate < Decimal(3):
        raise McpProtocolError(SERVICE, "eur_usd_rate", f"implausible EUR/USD {rate}")
    return Rate(rate, iso_to_time(result.get("time"), "eur_usd_rate", "time"))


def calendar_from_json(result: Any) -> tuple[MacroEvent, ...]:
    """The contract's ``calendar`` result."""
    if not isinstance(result, list):
        raise McpProtocolError(SERVICE, "calendar", "answer is not a list")
    events = []
    for row in result:
        impact = row.get("impact") if isinstance(row, Mapping) else None
        if impact not in ("low", "medium", "high"):
            raise McpProtocolError(SERVICE, "calendar", f"impact {impact!r}")
        events.append(
            MacroEvent(
                str(row.get("name", "")),
                iso_to_time(row.get("time"), "calendar", "time"),
                impact,
                str(row.get("country", "")),
            )
        )
    return tuple(sorted(events, key=lambda e: e.time))


class MacroClient:
    """Typed access to the macro service."""

    def __init__(self, http: McpHttp) -> None:
        self.http = http

    async def eur_usd(self) -> Rate:
        """The latest EUR/USD reference rate."""
        return rate_from_json(await self.http.call(SERVICE, "eur_usd_rate", {}))

    async def calendar(
        self, start: datetime, end: datetime, min_impact: str = "low"
    ) -> tuple[MacroEvent, ...]:
        """Events in [start, end] of at least ``min_impact``."""
        return calendar_from_json(
            await self.http.call(
                SERVICE,
                "calendar",
                {"from": start.isoformat(), "to": end.isoformat(), "min_impact": min_impact},
            )
        )

    async def asset_price(self, symbol: str) -> tuple[Decimal, datetime]:
        """An asset's USD price and its time."""
        r = await self.http.call(SERVICE, "asset_price", {"symbol": symbol})
        if not isinstance(r, Mapping):
            raise McpProtocolError(SERVICE, "asset_price", "answer is not an object")
        return (
            _fields.decimal(r.get("price_usd"), "asset_price", "price_usd"),
            iso_to_time(r.get("time"), "asset_price", "time"),
        )

    async def calendar_horizon(self) -> CalendarHorizon:
        """How far the operator's calendar file reaches (direct transport); empty elsewhere."""
        try:
            r = await self.http.call(SERVICE, "calendar_horizon", {})
        except McpProtocolError:
            return CalendarHorizon({})
        if not isinstance(r, Mapping):
            raise McpProtocolError(SERVICE, "calendar_horizon", "answer is not an object")
        by_name = r.get("last_by_name") or {}
        if not isinstance(by_name, Mapping):
            raise McpProtocolError(SERVICE, "calendar_horizon", "last_by_name is not an object")
        return CalendarHorizon(
            {
                str(name): iso_to_time(when, "calendar_horizon", "last_by_name")
                for name, when in by_name.items()
            }
        )
