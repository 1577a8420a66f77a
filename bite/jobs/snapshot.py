"""The market snapshot an entry cycle reads, gathered in parallel (docs/strategy.md 2-3).

Broker failures raise (the cycle is skipped, exit 75). A failure of another
service makes its values ``None`` and names it in ``unavailable``: the entry
then refuses with ``input_unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from bite.clients.deribit_json import Candles, ChainSnapshot, daily_closes
from bite.clients.hyperliquid import Funding
from bite.clients.macro import Rate
from bite.clients.sentiment import FearGreed
from bite.config.schema import StrategyConfig
from bite.context import Clients
from bite.core.indicators import pct_return
from bite.core.types import DailyClose, MacroEvent
from bite.errors import McpError

log = logging.getLogger("bite.snapshot")
T = TypeVar("T")


@dataclass(frozen=True)
class MarketSnapshot:
    """Everything the entry rules read, from one moment."""

    now: datetime
    spot: Decimal
    spot_time: datetime
    dvol: float | None
    dvol_time: datetime | None
    dvol_24h_ago: float | None
    daily: tuple[DailyClose, ...]
    return_24h_pct: float | None
    return_4h_pct: float | None
    hourly_time: datetime | None
    funding: Funding | None
    fear_greed: FearGreed | None
    eur_usd: Rate | None
    events: tuple[MacroEvent, ...] | None
    equity_eth: Decimal
    initial_margin_eth: Decimal
    chain: ChainSnapshot | None
    unavailable: tuple[str, ...]

    @property
    def equity_eur(self) -> Decimal:
        """Deribit equity in EUR (zero when EUR/USD is unknown)."""
        if self.eur_usd is None:
            return Decimal(0)
        return self.equity_eth * self.spot / self.eur_usd.rate

    def timestamps(self) -> tuple[tuple[str, datetime], ...]:
        """Each source's time, for the freshness rules."""
        stamps: list[tuple[str, datetime]] = [("index", self.spot_time)]
        if self.dvol_time is not None:
            stamps.append(("dvol", self.dvol_time))
        if self.hourly_time is not None:
            stamps.append(("candles_hourly", self.hourly_time))
        if self.funding is not None:
            stamps.append(("funding", self.funding.time))
        if self.fear_greed is not None:
            stamps.append(("fear_greed", self.fear_greed.time))
        if self.eur_usd is not None:
            stamps.append(("eur_usd", self.eur_usd.time))
        if self.chain is not None and self.chain.quotes:
            stamps.append(("quotes", min(q.timestamp for q in self.chain.quotes)))
        return tuple(stamps)


def close_before(candles: Candles, instant: datetime, hours: float = 1) -> Decimal | None:
    """The close of the latest candle that ended at or before ``instant``."""
    found = None
    for tick, close in zip(candles.ticks, candles.close, strict=True):
        if tick + timedelta(hours=hours) <= instant:
            found = close
    return found


async def _optional(name: str, call: Awaitable[T], missing: list[str]) -> T | None:
    try:
        return await call
    except McpError as exc:
        log.warning("%s unavailable: %s", name, exc)
        missing.append(name)
        return None


async def gather(
    clients: Clients, cfg: StrategyConfig, now: datetime, *, with_chain: bool = True
) -> MarketSnapshot:
    """Read every input at once; broker failures raise, others are marked unavailable."""
    d = clients.deribit
    missing: list[str] = []
    history = cfg.bias.history_days + 2
    horizon = now + timedelta(days=cfg.strikes.dte_max + 1)
    results: list[Any] = await asyncio.gather(
        d.index_price(),
        d.dvol(now - timedelta(hours=26), now, "3600"),
        d.dvol(now - timedelta(minutes=10), now, "60"),
        d.candles(now - timedelta(days=history), now, "1D"),
        d.candles(now - timedelta(hours=26), now, "60"),
        d.account_summary(),
        d.chain((now + timedelta(days=cfg.strikes.dte_min), horizon)) if with_chain else _none(),
        _optional("hyperliquid", clients.hyperliquid.funding(), missing),
        _optional("sentiment", clients.sentiment.fear_greed(), missing),
        _optional("macro", clients.macro.eur_usd(), missing),
        _optional("macro", clients.macro.calendar(now, horizon, "low"), missing),
    )
    (
        index,
        hourly_dvol,
        recent_dvol,
        daily,
        hourly,
        account,
        chain,
        funding,
        fear,
        rate,
        events,
    ) = results
    spot, spot_time = index
    points = sorted((*hourly_dvol, *recent_dvol))
    dvol = points[-1][1] if points else None
    dvol_time = points[-1][0] if points else None
    ago = [v for t, v in points if t <= now - timedelta(hours=24)]
    day_before = close_before(hourly, now - timedelta(hours=24))
    four_before = close_before(hourly, now - timedelta(hours=4))
    return MarketSnapshot(
        now=now,
        spot=spot,
        spot_time=spot_time,
        dvol=dvol,
        dvol_time=dvol_time,
        dvol_24h_ago=ago[-1] if ago else None,
        daily=daily_closes(daily, now),
        return_24h_pct=pct_return(spot, day_before) if day_before else None,
        return_4h_pct=pct_return(spot, four_before) if four_before else None,
        hourly_time=hourly.ticks[-1] if hourly.ticks else None,
        funding=funding,
        fear_greed=fear,
        eur_usd=rate,
        events=events,
        equity_eth=account.equity,
        initial_margin_eth=account.initial_margin,
        chain=chain,
        unavailable=tuple(sorted(set(missing))),
    )


async def _none() -> None:
    return None
