"""Entry validation: may a new spread be opened now? (docs/strategy.md section 2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from bite.config.schema import IMPACT_RANK, StrategyConfig
from bite.core.indicators import realized_vol_pct
from bite.core.types import (
    ComboProposal,
    EntryContext,
    EntryDecision,
    MacroEvent,
    MacroHold,
    PositionGreeks,
)

REASON_ORDER = (
    "kill_switch_armed",
    "max_positions",
    "dvol_low",
    "dvol_high",
    "dvol_spike",
    "vol_premium_low",
    "price_shock",
    "funding_extreme",
    "macro_blackout",
    "calendar_stale",
    "sentiment_extreme",
    "equity_low",
    "drawdown_halt",
    "negative_edge",
    "stale_data",
    "input_unavailable",
)


def blackout_events(
    events: tuple[MacroEvent, ...], start: datetime, end: datetime, min_impact: str
) -> tuple[MacroEvent, ...]:
    """Events of at least ``min_impact`` with ``start <= time <= end``, in time order."""
    floor = IMPACT_RANK[min_impact]
    hits = [e for e in events if IMPACT_RANK[e.impact] >= floor and start <= e.time <= end]
    return tuple(sorted(hits, key=lambda e: e.time))


def stale_sources(ctx: EntryContext, cfg: StrategyConfig) -> tuple[str, ...]:
    """The inputs older than their maximum age, and ``daily_candles`` when yesterday is missing."""
    limits = cfg.anomaly.max_age_minutes.model_dump()
    stale = [
        source
        for source, stamp in ctx.timestamps
        if source in limits and ctx.now - stamp > timedelta(minutes=limits[source])
    ]
    yesterday = (ctx.now - timedelta(days=1)).date()
    if not ctx.daily_closes or ctx.daily_closes[-1].day < yesterday:
        stale.append("daily_candles")
    return tuple(sorted(set(stale)))


def validate_entry(ctx: EntryContext, cfg: StrategyConfig) -> EntryDecision:
    """Apply every entry rule; each failing one adds its reason code."""
    e = cfg.entry
    reasons: set[str] = set()
    numbers: dict[str, float | str | None] = {}

    if ctx.kill_switch_armed:
        reasons.add("kill_switch_armed")
    numbers["open_positions"] = ctx.open_positions
    if ctx.open_positions >= e.max_concurrent_positions:
        reasons.add("max_positions")

    numbers["dvol"] = ctx.dvol
    if ctx.dvol is not None:
        if ctx.dvol < e.dvol_min:
            reasons.add("dvol_low")
        if ctx.dvol > e.dvol_max:
            reasons.add("dvol_high")
        if ctx.dvol_24h_ago is not None:
            rise = ctx.dvol - ctx.dvol_24h_ago
            numbers["dvol_rise_24h"] = rise
            if rise > e.dvol_max_rise_24h:
                reasons.add("dvol_spike")
        closes = [c.close for c in ctx.daily_closes]
        rv = realized_vol_pct(closes, 10)
        numbers["realized_vol_10d"] = rv
        if rv is not None:
            premium = ctx.dvol - rv
            numbers["vol_premium"] = premium
            if premium < e.min_vol_premium:
                reasons.add("vol_premium_low")

    numbers["return_24h_pct"] = ctx.return_24h_pct
    if ctx.return_24h_pct is not None and abs(ctx.return_24h_pct) > e.max_abs_return_24h_pct:
        reasons.add("price_shock")

    numbers["funding_annual_pct"] = ctx.funding_annual_pct
    if (
        ctx.funding_annual_pct is not None
        and abs(ctx.funding_annual_pct) > e.funding_max_abs_annual_pct
    ):
        reasons.add("funding_extreme")

    if ctx.macro_events is None:
        reasons.add("calendar_stale")
    else:
        end = ctx.now + timedelta(hours=e.macro_blackout_hours)
        hits = blackout_events(ctx.macro_events, ctx.now, end, e.macro_min_impact)
        if hits:
            reasons.add("macro_blackout")
            numbers["macro_event"] = f"{hits[0].name} {hits[0].time.isoformat()}"
    if ctx.calendar_horizon is not None:
        needed = ctx.now + timedelta(days=e.calendar_min_horizon_days)
        numbers["calendar_horizon"] = ctx.calendar_horizon.isoformat()
        if ctx.calendar_horizon <= needed:
            reasons.add("calendar_stale")

    numbers["fear_greed"] = ctx.fear_greed
    if ctx.fear_greed is not None and not e.fear_greed_min <= ctx.fear_greed <= e.fear_greed_max:
        reasons.add("sentiment_extreme")

    numbers["equity_eur"] = str(ctx.equity_eur.quantize(Decimal("0.01")))
    if ctx.equity_eur < e.min_equity_eur:
        reasons.add("equity_low")

    numbers["drawdown_pct"] = ctx.kelly.drawdown_pct
    if ctx.kelly.halted:
        reasons.add("drawdown_halt")
    if ctx.kelly.negative_edge and cfg.kelly.block_on_negative_edge:
        reasons.add("negative_edge")

    stale = stale_sources(ctx, cfg)
    if stale:
        reasons.add("stale_data")
        numbers["stale_sources"] = ",".join(stale)

    if ctx.unavailable:
        reasons.add("input_unavailable")
        numbers["unavailable"] = ",".join(sorted(ctx.unavailable))

    ordered = tuple(code for code in REASON_ORDER if code in reasons)
    return EntryDecision(accepted=not ordered, reasons=ordered, numbers=tuple(numbers.items()))


def macro_hold(
    events: tuple[MacroEvent, ...], now: datetime, expiry: datetime, cfg: StrategyConfig
) -> MacroHold:
    """The macro hold policy for a chosen expiry: events between blackout end and planned exit."""
    e = cfg.entry
    start = now + timedelta(hours=e.macro_blackout_hours)
    end = expiry - timedelta(hours=cfg.exit.time_exit_hours)
    hits = blackout_events(events, start, end, e.macro_min_impact) if end >= start else ()
    if not hits or e.macro_hold_policy == "ignore":
        return MacroHold(action="none", events=hits, window_start=start, window_end=end)
    action: Literal["halve", "block"] = e.macro_hold_policy
    return MacroHold(action=action, events=hits, window_start=start, window_end=end)


def validate_proposal(
    proposal: ComboProposal, open_greeks: PositionGreeks, cfg: StrategyConfig
) -> EntryDecision:
    """Check ``delta_limit``: the book's net delta with the new position stays inside the cap."""
    limit = cfg.sizing.max_abs_net_delta_eth
    net = open_greeks.delta + proposal.greeks.delta
    numbers: tuple[tuple[str, float | str | None], ...] = (
        ("net_delta_after", net),
        ("max_abs_net_delta_eth", limit),
    )
    if limit is not None and abs(net) > limit:
        return EntryDecision(accepted=False, reasons=("delta_limit",), numbers=numbers)
    return EntryDecision(accepted=True, reasons=(), numbers=numbers)
