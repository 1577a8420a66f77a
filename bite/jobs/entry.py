"""``bite entry-run``: one entry cycle (docs/strategy.md 2-8, docs/operations.md 1 and 4).

Snapshot (in parallel) -> Kelly estimate -> entry rules -> bias -> strikes ->
macro hold -> fresh tickers of the chosen legs -> sizing -> liquidity ->
proposal -> delta limit -> (dry run: report ``would_enter``) -> position and
order rows committed -> the order worked through its ladder -> the position
opened with what filled.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bite.clock import iso_z
from bite.core.bias import assess_bias
from bite.core.combo_builder import build_proposal, repriced_entry_price
from bite.core.entry_validator import macro_hold, validate_entry, validate_proposal
from bite.core.fees import round_trip_fee
from bite.core.kelly_recalibration import recalibrate_kelly
from bite.core.liquidity_gate import check_liquidity
from bite.core.sizing_engine import compute_contracts
from bite.core.strike_selector import select_strikes
from bite.core.types import (
    Bias,
    ComboProposal,
    EntryContext,
    KellyEstimate,
    MacroHold,
    OptionQuote,
    PositionGreeks,
    SizingContext,
    SizingResult,
    StrikePair,
)
from bite.errors import McpDataAnomalyError, McpError
from bite.jobs.booking import opened_fields, proposal_values
from bite.jobs.boot import Run
from bite.jobs.chains import record_chain
from bite.jobs.hedge import hedge_step
from bite.jobs.orders import COMBO_UNAVAILABLE, SETTLEMENT_WINDOW, OrderPlan, work_order
from bite.jobs.snapshot import MarketSnapshot, gather
from bite.reporting.messages import entry_message
from bite.safety.order_guards import GuardedOrder
from bite.state.repository import parse_iso_z

log = logging.getLogger("bite.entry")


@dataclass
class EntryOutcome:
    """What the cycle decided and did."""

    status: str
    reasons: list[str] = field(default_factory=list)
    proposal: ComboProposal | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    order: dict[str, Any] | None = None
    kelly: KellyEstimate | None = None
    hedge: dict[str, Any] | None = None  # the hedge's step after a fill (docs/strategy.md 14)

    def to_json(self) -> dict[str, Any]:
        """The job-specific fields of the ``--json`` object."""
        return {
            "proposal": _proposal_json(self.proposal) if self.proposal else None,
            "numbers": self.numbers,
            "order": self.order,
            "kelly": asdict(self.kelly) if self.kelly else None,
            "hedge": self.hedge,
        }


def _proposal_json(p: ComboProposal) -> dict[str, Any]:
    data = asdict(p)
    data["ladder"] = [str(x) for x in p.ladder]
    return data


def new_proposal_id() -> str:
    """A fresh proposal id (live runs; backtests derive theirs from the seed and slot)."""
    return uuid.uuid4().hex[:16]


async def _calendar_horizon(run: Run) -> datetime:
    """The calendar file's reach; an alert for each kind of event that ends too soon."""
    now = run.clock.now()
    try:
        horizon = await run.clients.macro.calendar_horizon()
    except McpError:
        return now  # unreadable: stale, fail closed
    needed = now + timedelta(days=run.cfg.entry.calendar_min_horizon_days)
    for name, last in sorted(horizon.last_by_name.items()):
        if last < needed and (horizon.last_event or now) >= needed:
            await run.alerts.emit(
                "MEDIUM",
                "macro",
                f"calendar_gap:{name}",
                f"the macro calendar's last {name!r} is {iso_z(last)}: add the next ones "
                f"to {run.cfg.services.macro.calendar_file} (the entry gate cannot see them)",
            )
    return horizon.last_event or now


def _kelly(run: Run) -> KellyEstimate:
    sample = run.state.repo.current_sample()
    start = parse_iso_z(sample[1]) if sample else None
    return recalibrate_kelly(run.state.repo.closed_trades(), run.cfg, sample_start=start)


def _open_greeks(run: Run) -> PositionGreeks:
    total = PositionGreeks()
    for row in run.state.repo.positions(("open", "closing")):
        g = run.state.repo.proposal_of(row.id).get("greeks", {})
        scale = row.contracts / max(row.contracts_proposed, 1)
        total = PositionGreeks(
            delta=total.delta + g.get("delta", 0) * scale,
            gamma=total.gamma + g.get("gamma", 0) * scale,
            vega=total.vega + g.get("vega", 0) * scale,
            theta=total.theta + g.get("theta", 0) * scale,
        )
    return total


@dataclass
class _Cycle:
    """What every step of one entry cycle reads, and the numbers it reports."""

    run: Run
    snap: MarketSnapshot
    kelly: KellyEstimate
    numbers: dict[str, Any]

    def no_entry(self, *reasons: str, proposal: ComboProposal | None = None) -> EntryOutcome:
        """The cycle ends here: no entry, for these reasons."""
        return EntryOutcome("no_entry", list(reasons), proposal, self.numbers, kelly=self.kelly)


@dataclass(frozen=True)
class _Legs:
    """The chosen pair, the macro policy over its holding period, its legs' fresh quotes."""

    pair: StrikePair
    hold: MacroHold
    short: OptionQuote
    long: OptionQuote
    eur_usd: Decimal


async def run_entry_cycle(  # noqa: PLR0911 - one return per step, read in order
    run: Run, *, proposal_id: str | None = None
) -> EntryOutcome:
    """One entry cycle, as the module docstring orders it: each step either ends the cycle
    with its reasons (an ``EntryOutcome``) or hands what it found to the next."""
    if run.choice.refused:
        return EntryOutcome("config_unapproved", ["config_unapproved"])
    snap = await gather(run.clients, run.cfg, run.clock.now())
    if snap.chain is not None and run.environment != "paper" and not run.dry_run:
        record_chain(run.data_dir, snap.chain, run.clock.now())  # what the market quoted
    kelly = _kelly(run)
    if not run.dry_run:
        sample = run.state.repo.current_sample()
        run.state.repo.add_kelly_estimate(run.clock.now(), sample[0] if sample else None, kelly)
        if snap.eur_usd is not None:  # the equity curve (the dashboard's History)
            run.state.repo.add_equity_snapshot(
                run.clock.now(), snap.equity_eth, snap.equity_eur, snap.equity_eth * snap.spot
            )
    c = _Cycle(run, snap, kelly, {})
    bias = await _entry_rules(c)
    if isinstance(bias, EntryOutcome):
        return bias
    legs = await _choose_legs(c, bias)
    if isinstance(legs, EntryOutcome):
        return legs
    sizing = await _size(c, legs)
    if isinstance(sizing, EntryOutcome):
        return sizing
    proposal = _propose(c, legs, sizing, proposal_id or new_proposal_id())
    if isinstance(proposal, EntryOutcome):
        return proposal
    if run.dry_run:
        return EntryOutcome("would_enter", [], proposal, c.numbers, kelly=kelly)
    placed = await _place_entry(
        run, proposal, sizing.sizing_loss_eur * proposal.contracts, snap, c.numbers, kelly
    )
    if placed.status not in ("entered", "entered_partial"):
        return placed
    hedged = await hedge_step(run, "entry")  # the new spread changes what the hedge holds
    return placed if hedged is None else replace(placed, hedge=hedged)


async def _entry_rules(c: _Cycle) -> Bias | EntryOutcome:
    """docs/strategy.md 2 and 3: every entry rule, then the bias."""
    run, snap, cfg = c.run, c.snap, c.run.cfg
    open_count = len(run.state.repo.positions(("proposed", "awaiting_fill", "open", "closing")))
    ctx = EntryContext(
        now=run.clock.now(),
        kill_switch_armed=run.state.kill_switch.status().armed,
        open_positions=open_count,
        spot=snap.spot,
        dvol=snap.dvol,
        dvol_24h_ago=snap.dvol_24h_ago,
        daily_closes=snap.daily,
        return_24h_pct=snap.return_24h_pct,
        funding_annual_pct=snap.funding.annual_pct if snap.funding else None,
        macro_events=snap.events,
        calendar_horizon=None,
        fear_greed=snap.fear_greed.value if snap.fear_greed else None,
        equity_eur=snap.equity_eur,
        kelly=c.kelly,
        timestamps=snap.timestamps(),
        unavailable=snap.unavailable,
    )
    if cfg.services.macro.transport == "direct" and cfg.execution.environment != "paper":
        # the operator's calendar file must reach far enough ahead (calendar_stale)
        ctx = replace(ctx, calendar_horizon=await _calendar_horizon(run))
    decision = validate_entry(ctx, cfg)
    bias = assess_bias(snap.spot, snap.daily, ctx.funding_annual_pct, cfg.bias)
    c.numbers.update(decision.numbers)
    c.numbers.update(
        {
            "bias": bias.bias,
            "ema_fast": bias.ema_fast,
            "ema_slow": bias.ema_slow,
            "return_7d_pct": bias.return_7d_pct,
            "spot": str(snap.spot),
            "risk_fraction": c.kelly.risk_fraction,
        }
    )
    reasons = list(decision.reasons)
    if "calendar_stale" in reasons:
        await run.alerts.emit(
            "MEDIUM",
            "macro",
            "calendar_stale",
            "no macro calendar, or no event in it more than "
            f"{cfg.entry.calendar_min_horizon_days:g} days ahead: entries refused until "
            "it is brought up to date",
        )
    if bias.bias is None:
        reasons.append("no_bias")
    if reasons or bias.bias is None:
        return c.no_entry(*(reasons or ["no_bias"]))
    return bias.bias


async def _choose_legs(c: _Cycle, bias: Bias) -> _Legs | EntryOutcome:
    """docs/strategy.md 4, the macro hold policy over the holding period, and the chosen
    legs' own tickers (fresher and fuller than the chain's rows)."""
    run, snap = c.run, c.snap
    now = run.clock.now()
    pair = select_strikes(snap.chain.quotes if snap.chain else (), bias, snap.spot, now, run.cfg)
    if pair is None:
        return c.no_entry("no_strike")
    hold = macro_hold(snap.events or (), now, pair.short.expiry, run.cfg)
    if hold.action == "block":
        return c.no_entry("macro_blackout")
    try:
        short = await run.clients.deribit.ticker(pair.short.name)
        long = await run.clients.deribit.ticker(pair.long.name)
    except McpDataAnomalyError as exc:
        await run.alerts.emit(
            "HIGH",
            "market_data",
            "leg_anomaly",
            f"the chosen legs' quotes are not plausible: {exc.detail}",
        )
        return c.no_entry("leg_anomaly")
    if snap.eur_usd is None:
        return c.no_entry("input_unavailable")
    return _Legs(pair, hold, short, long, snap.eur_usd.rate)


async def _size(c: _Cycle, legs: _Legs) -> SizingResult | EntryOutcome:
    """docs/strategy.md 5 (with the broker's margin estimate for one contract), then the
    liquidity gate of docs/strategy.md 6 on the size found."""
    cfg, snap = c.run.cfg, c.snap
    order_legs = [
        {"instrument_name": legs.short.name, "direction": "sell"},
        {"instrument_name": legs.long.name, "direction": "buy"},
    ]
    estimate = await c.run.clients.deribit.margin_estimate(order_legs, 1, legs.pair.ladder_top)
    sizing = compute_contracts(
        SizingContext(
            equity_eur=snap.equity_eur,
            equity_eth=snap.equity_eth,
            eur_usd=legs.eur_usd,
            risk_fraction=c.kelly.risk_fraction,
            halve_for_macro=legs.hold.action == "halve",
            width_usd=legs.pair.width_usd,
            fees_round_trip_eth=round_trip_fee(legs.short.mid, legs.long.mid, cfg.fees),
            spot=snap.spot,
            short=legs.short,
            long=legs.long,
            account_initial_margin_eth=snap.initial_margin_eth,
            order_margin_eth_per_contract=estimate,
        ),
        cfg,
    )
    c.numbers.update(
        {
            "contracts": sizing.contracts,
            # sized on the exact budget; shown in cents
            "budget_eur": str(sizing.budget_eur.quantize(Decimal("0.01"))),
            "binding_cap": sizing.binding_cap,
            "macro_hold": legs.hold.action,
        }
    )
    if sizing.reason is not None:
        return c.no_entry(sizing.reason)
    gate = check_liquidity(legs.short, legs.long, sizing.contracts, cfg, spot=snap.spot)
    c.numbers.update(dict(gate.numbers))
    return sizing if gate.passed else c.no_entry(*gate.reasons)


def _propose(
    c: _Cycle, legs: _Legs, sizing: SizingResult, proposal_id: str
) -> ComboProposal | EntryOutcome:
    """docs/strategy.md 7 at the fresh quotes, then the delta limit (docs/strategy.md 2)."""
    try:
        proposal = build_proposal(
            legs.short,
            legs.long,
            sizing.contracts,
            c.snap.spot,
            c.run.clock.now(),
            proposal_id,
            c.run.cfg,
            eur_usd=legs.eur_usd,
        )
    except ValueError as exc:
        log.info("no proposal at fresh quotes: %s", exc)
        return c.no_entry("no_strike")
    check = validate_proposal(proposal, _open_greeks(c.run), c.run.cfg)
    return proposal if check.accepted else c.no_entry(*check.reasons, proposal=proposal)


async def _place_entry(
    run: Run,
    proposal: ComboProposal,
    sizing_loss_eur: Decimal,
    snap: MarketSnapshot,
    numbers: dict[str, Any],
    kelly: KellyEstimate,
) -> EntryOutcome:
    repo = run.state.repo
    sample = repo.current_sample()
    repo.insert_proposed(
        proposal,
        sizing_loss_eur=sizing_loss_eur,
        dvol_at_entry=snap.dvol or 0.0,
        sample_id=sample[0] if sample else None,
    )
    run.state.audit.append(
        "ENTRY_PROPOSED",
        {
            "proposal_id": proposal.proposal_id,
            "label": proposal.label,
            "short": proposal.short.instrument_name,
            "long": proposal.long.instrument_name,
            "contracts": proposal.contracts,
            "ladder": list(proposal.ladder),
            "max_loss_usd": proposal.max_loss_usd,
        },
        run.clock.now(),
    )
    run.checkpoint("after_proposed_commit")
    legs = [
        {"instrument_name": proposal.short.instrument_name, "direction": "sell"},
        {"instrument_name": proposal.long.instrument_name, "direction": "buy"},
    ]
    guarded = GuardedOrder(
        kind="entry",
        proposal_id=proposal.proposal_id,
        label=proposal.label,
        attempt=0,
        legs=tuple(
            (
                leg.instrument_name,
                leg.direction,
                leg.option_type,
                leg.strike,
                leg.expiry.isoformat(),
            )
            for leg in (proposal.short, proposal.long)
        ),
        side="sell",
        amount=proposal.contracts,
        price=proposal.ladder[0],
        width_usd=proposal.width_usd,
        forward=proposal.forward,
        spread_type=proposal.spread_type,
        held=0,
        sizing_loss_eur=sizing_loss_eur,
    )
    repo.transition(proposal.proposal_id, "awaiting_fill", run.clock.now())

    async def reprice(step: int) -> Decimal | None:
        short = await run.clients.deribit.ticker(proposal.short.instrument_name)
        long = await run.clients.deribit.ticker(proposal.long.instrument_name)
        return repriced_entry_price(proposal, short, long, step, run.cfg)

    outcome = await work_order(
        run,
        OrderPlan(
            position_id=proposal.proposal_id,
            kind="entry",
            attempt=0,
            guarded=guarded,
            legs=legs,
            ladder=proposal.ladder,
            reprice=reprice,
            risk_exit=False,
            sent_point="after_order_sent",
        ),
    )
    order_json = {"label": proposal.label, **outcome.summary()}
    now = run.clock.now()
    if outcome.filled > 0:
        credit = outcome.average_price or proposal.credit_eth
        repo.transition(
            proposal.proposal_id,
            "open",
            now,
            **opened_fields(proposal_values(proposal), outcome.filled, credit, now),
        )
        run.state.audit.append(
            "ENTRY_FILLED",
            {"proposal_id": proposal.proposal_id, "contracts": outcome.filled, "credit": credit},
            now,
        )
        status = "entered" if outcome.filled >= proposal.contracts else "entered_partial"
        await run.alerts.notify(entry_message(proposal, outcome.filled, credit, status))
        return EntryOutcome(status, [], proposal, numbers, order_json, kelly)
    repo.transition(proposal.proposal_id, "cancelled", now)
    run.state.audit.append(
        "ENTRY_CANCELLED",
        {
            "proposal_id": proposal.proposal_id,
            "reason": outcome.refused or outcome.reject_reason or "unfilled",
        },
        now,
    )
    reasons = [outcome.refused] if outcome.refused else []
    if outcome.refused == COMBO_UNAVAILABLE:
        await run.alerts.emit(
            "MEDIUM",
            "deribit",
            COMBO_UNAVAILABLE,
            f"entry {proposal.label} skipped: the venue will not open the combo book",
        )
        return EntryOutcome("no_entry", reasons, proposal, numbers, order_json, kelly)
    if outcome.refused == SETTLEMENT_WINDOW:  # said in the log; the next entry slot sends
        return EntryOutcome("no_entry", reasons, proposal, numbers, order_json, kelly)
    if outcome.reject_reason:
        await run.alerts.emit(
            "HIGH",
            "broker",
            "order_rejected",
            f"entry {proposal.label} rejected: {outcome.reject_reason}",
        )
        reasons.append(f"rejected:{outcome.reject_reason}")
    return EntryOutcome("unfilled", reasons, proposal, numbers, order_json, kelly)
