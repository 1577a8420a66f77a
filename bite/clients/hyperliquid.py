"""Funding from Hyperliquid (an hourly rate; annualized % = rate x 8760 x 100)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bite.clients._fields import Fields
from bite.clients._http import McpHttp
from bite.errors import McpProtocolError

SERVICE = "hyperliquid"
_fields = Fields(SERVICE)
HOURS_PER_YEAR = 8760


@dataclass(frozen=True)
class Funding:
    """ETH perpetual funding at one hour."""

    hourly: float
    mark_px: Decimal
    time: datetime
    open_interest: Decimal = Decimal(0)

    @property
    def annual_pct(self) -> float:
        """The hourly rate annualized, in percent."""
        return self.hourly * HOURS_PER_YEAR * 100


def funding_from_json(result: Any) -> Funding:
    """The contract's ``funding`` result."""
    if not isinstance(result, Mapping):
        raise McpProtocolError(SERVICE, "funding", "answer is not an object")
    return Funding(
        hourly=float(_fields.decimal(result.get("funding_hourly"), "funding", "funding_hourly")),
        mark_px=_fields.decimal(result.get("mark_px", 0), "funding", "mark_px"),
        time=_fields.ms_time(result.get("time"), "funding", "time"),
        open_interest=_fields.decimal(result.get("open_interest", 0), "funding", "open_interest"),
    )


def funding_from_meta_and_ctxs(result: Any, coin: str, time: datetime) -> Funding:
    """Hyperliquid's own ``metaAndAssetCtxs`` answer: [meta, ctxs], matched by coin name."""
    try:
        universe = result[0]["universe"]
        ctxs = result[1]
        index = next(i for i, asset in enumerate(universe) if asset["name"] == coin)
        ctx = ctxs[index]
    except (KeyError, IndexError, TypeError, StopIteration):
        raise McpProtocolError(SERVICE, "funding", f"no {coin} in metaAndAssetCtxs") from None
    return Funding(
        hourly=float(_fields.decimal(ctx.get("funding"), "funding", "funding")),
        mark_px=_fields.decimal(ctx.get("markPx"), "funding", "markPx"),
        time=time,
        open_interest=_fields.decimal(ctx.get("openInterest", 0), "funding", "openInterest"),
    )


class HyperliquidClient:
    """Typed access to the funding service."""

    def __init__(self, http: McpHttp) -> None:
        self.http = http

    async def funding(self, coin: str = "ETH") -> Funding:
        """The current hourly funding."""
        return funding_from_json(await self.http.call(SERVICE, "funding", {"coin": coin}))

    async def account_value(self) -> Decimal:
        """The Hyperliquid account's value in USD."""
        r = await self.http.call(SERVICE, "account_value", {})
        if not isinstance(r, Mapping):
            raise McpProtocolError(SERVICE, "account_value", "answer is not an object")
        return _fields.decimal(r.get("account_value_usd"), "account_value", "account_value_usd")
