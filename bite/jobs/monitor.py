"""``bite monitor-run``: an exit decision per open position (docs/strategy.md 10).

The orders as docs/operations.md 4 says.

DVOL snapshot and the 4 h return once; then each position on its own: a stale
or anomalous quote skips only that position (HIGH alert). HOLD is audited with
its numbers. A close goes through the exit ladder, labelled ``bite-<id>-x<k>``;
a risk exit is retried with fresh ladders for ``risk_exit_retry_minutes``; a
partial exit books the filled part and returns the rest to ``open``. An expired
position is booked from the delivery price.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bite.clock import iso_z
from bite.core import labels
from bite.core.anomaly import spot_jump_anomalies
from bite.core.exit_decision import crossing_ladder, evaluate
from bite.core.greeks_aggregator import SignedLeg, aggregate_greeks
from bite.core.indicators import pct_return
from bite.core.monitor_schedule import decision_due
from bite.core.types import ExitDecision, ExitSnapshot, OptionQuote, PositionView
from bite.errors import McpDataAnomalyError
from bite.jobs.booking import book_exit, book_expiry
from bite.jobs.boot import Run
from bite.jobs.hedge import hedge_step
from bite.jobs.orders import SETTLEMENT_WINDOW, OrderOutcome, OrderPlan, in_settlement, work_order
from bite.jobs.snapshot import close_before
from bite.safety.kill_switch import permission
from bite.safety.order_guards import GuardedOrder
from bite.state.models import PositionRow
from bite.state.repository import parse_iso_z

log = logging.getLogger("bite.monitor")

SEVERITY = [
    "error",
    "exit_blocked",
    "close_unfilled",
    "skipped",
    "closed_partial",
    "would_close",
    "closed",
    "expired",
    "held",
    "no_positions",
    "not_due",
]


@dataclass
class PositionOutcome:
    """What happened to one position."""

    position_id: str
    status: str
    action: str | None = None
    reasons: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    order: dict[str, Any] | None = None


@dataclass
class MonitorOutcome:
    """The whole run: the most severe status and one entry per position."""

    status: str
    reasons: list[str]
    positions: list[PositionOutcome]
    due: list[str] = field(default_factory=list)  # why it decided in full
    spot: Decimal | None = None
    hedge: dict[str, Any] | None = None  # the hedge's step after the exits (docs/strategy.md 14)

    def to_json(self) -> dict[str, Any]:
        """The job-specific fields of ``--json``."""
        return {
            "positions": [asdict(p) for p in self.positions],
            "due": self.due,
            "spot": str(self.spot) if self.spot is not None else None,
            "hedge": self.hedge,
        }


def most_severe(statuses: list[str]) -> str:
    """The run's status (docs/operations.md 2 order)."""
    if not statuses:
        return "no_positions"
    return min(statuses, key=SEVERITY.index)


def position_view(row: PositionRow, proposal: dict[str, Any]) -> PositionView:
    """The exit rules' view of a stored position."""
    return PositionView(
        position_id=row.id,
        spread_type=row.spread_type,  # type: ignore[arg-type]
        short_name=row.short_instrument,
        long_name=row.long_instrument,
        short_strike=row.short_strike,
        long_strike=row.long_strike,
        expiry=parse_iso_z(row.expiry),
        contracts=row.contracts,
        credit_eth=row.entry_credit_eth or Decimal(proposal["credit_eth"]),
        dvol_at_entry=row.dvol_at_entry,
    )


@dataclass(frozen=True)
class Market:
    """What the exit rules read once per run."""

    spot: Decimal
    dvol: float
    ret4h: float


def _stale(q: OptionQuote, now: datetime, minutes: float) -> bool:
    return now - q.timestamp > timedelta(minutes=minutes)


LAST_DECISION_KEY = "monitor_last_decision"


async def run_monitor_cycle(run: Run, *, full: bool = False) -> MonitorOutcome:
    """Evaluate every open position when due; close what a rule says to close; then
    rebalance the hedge (every hour, due or not: it trades only outside its band).

    Between the scheduled decision hours an hourly run reads spot only and ends
    ``not_due`` unless spot moved, nears a short strike, an exit pends or a position
    expired (``core.monitor_schedule``); ``full`` decides regardless.
    """
    outcome = await _exit_decisions(run, full=full)  # a new outcome: the step is added to it
    outcome.hedge = await hedge_step(run, "monitor")
    return outcome


async def _exit_decisions(run: Run, *, full: bool) -> MonitorOutcome:
    """The exit rules of every open position, when due."""
    repo = run.state.repo
    rows = repo.positions(("open",))
    if not rows:
        return MonitorOutcome("no_positions", [], [])
    d = run.clients.deribit
    now = run.clock.now()
    spot, _ = await d.index_price()
    stored = repo.get_state(LAST_DECISION_KEY)
    last = (parse_iso_z(stored["time"]), Decimal(stored["spot"])) if stored else None
    due = decision_due(
        now,
        spot,
        last,
        [r.short_strike for r in rows],
        [parse_iso_z(r.expiry) for r in rows],
        any(r.exit_pending_rule for r in rows),
        run.cfg.schedule,
    )
    if full:
        due.insert(0, "asked")
    if not due:
        return MonitorOutcome("not_due", [], [], [], spot)
    # the last minute's point; the last two hours only when the venue skipped some
    points = await d.dvol(now - timedelta(minutes=10), now, "60") or await d.dvol(
        now - timedelta(hours=2), now, "60"
    )
    dvol = points[-1][1] if points else None
    if dvol is None:
        raise McpDataAnomalyError("deribit", "dvol", "no DVOL point in the last two hours")
    previous = repo.last_spot_since(now - timedelta(hours=24))
    if spot_jump_anomalies(spot, previous, run.cfg.anomaly):
        raise McpDataAnomalyError(
            "deribit",
            "index_price",
            f"spot {spot} jumped more than {run.cfg.anomaly.max_spot_jump_pct}% since {previous}",
        )
    if not run.dry_run:
        repo.add_dvol_snapshot(now, dvol, spot)
    hourly = await d.candles(now - timedelta(hours=6), now, "60")
    four = close_before(hourly, now - timedelta(hours=4))
    ret4h = pct_return(spot, four) if four else 0.0
    results = []
    for row in rows:
        try:
            results.append(await _one(run, row, Market(spot, dvol, ret4h)))
        except McpDataAnomalyError as exc:
            await run.alerts.emit(
                "HIGH", "market_data", f"skip:{row.id}", f"position {row.id} skipped: {exc.detail}"
            )
            results.append(PositionOutcome(row.id, "skipped", reasons=["anomalous_quote"]))
    status = most_severe([r.status for r in results])
    reasons = sorted({reason for r in results for reason in r.reasons})
    if not run.dry_run:
        repo.set_state(LAST_DECISION_KEY, {"time": iso_z(now), "spot": str(spot)}, now)
    return MonitorOutcome(status, reasons, results, due, spot)


async def _one(run: Run, row: PositionRow, market: Market) -> PositionOutcome:
    now = run.clock.now()
    proposal = run.state.repo.proposal_of(row.id)
    view = position_view(row, proposal)
    if now >= view.expiry:
        return await _expire(run, row, view)
    d = run.clients.deribit
    short = await d.ticker(row.short_instrument)
    long = await d.ticker(row.long_instrument)
    limit = run.cfg.anomaly.max_age_minutes.quotes
    if _stale(short, now, limit) or _stale(long, now, limit):
        await run.alerts.emit(
            "HIGH",
            "market_data",
            f"stale:{row.id}",
            f"position {row.id} skipped: its quotes are older than {limit:g} min",
        )
        return PositionOutcome(row.id, "skipped", reasons=["stale_quote"])
    decision = evaluate(
        ExitSnapshot(view, short, long, market.spot, now, market.dvol, market.ret4h), run.cfg
    )
    if row.exit_pending_rule and decision.action == "HOLD":
        # a risk exit left unfilled by an earlier run: this run starts there
        decision = replace(decision, action=row.exit_pending_rule, is_risk_exit=True)  # type: ignore[arg-type]
    numbers: dict[str, Any] = dict(decision.numbers)
    numbers["ladder"] = [str(p) for p in decision.ladder]
    if not run.dry_run:  # bite status shows it without asking the broker
        run.state.repo.set_evaluation(
            row.id, decision.action, {**numbers, **_held_greeks(row, short, long)}, now
        )
    if decision.action == "HOLD":
        if not run.dry_run:
            run.state.audit.append("HOLD", {"position_id": row.id, **numbers}, now)
        return PositionOutcome(row.id, "held", "HOLD", numbers=numbers)
    if run.dry_run:
        return PositionOutcome(row.id, "would_close", decision.action, numbers=numbers)
    verdict = permission(
        run.state.kill_switch.status(),
        order="exit",
        risk_exit=decision.is_risk_exit,
        exits_when_operational=run.cfg.kill_switch.exits_when_operational,
    )
    if not verdict.allowed:
        await run.alerts.emit(
            "HIGH",
            "kill_switch",
            f"exit_blocked:{row.id}",
            f"{decision.action} fired for {row.id} but the kill switch holds the exit back",
        )
        return PositionOutcome(
            row.id, "exit_blocked", decision.action, ["kill_switch_armed"], numbers
        )
    if in_settlement(now):  # nothing is sent 07:30-08:15 UTC: the next run closes it
        log.warning(
            "%s fired for %s inside Deribit's settlement window: the next run sends the exit",
            decision.action,
            row.id,
        )
        return PositionOutcome(
            row.id, "exit_blocked", decision.action, [SETTLEMENT_WINDOW], numbers
        )
    return await _close(run, row, view, decision, market, numbers, short.forward)


def _held_greeks(row: PositionRow, short: OptionQuote, long: OptionQuote) -> dict[str, float]:
    """The net greeks of what is held, from this run's quotes of the two legs."""
    legs = [
        SignedLeg(sign, float(row.contracts), q.greeks)
        for sign, q in ((-1, short), (1, long))
        if q.greeks is not None
    ]
    net = aggregate_greeks(legs)
    return {
        "net_delta": round(net.delta, 4),
        "net_gamma": round(net.gamma, 6),
        "net_vega": round(net.vega, 2),
        "net_theta": round(net.theta, 2),
    }


async def _close(
    run: Run,
    row: PositionRow,
    view: PositionView,
    decision: ExitDecision,
    market: Market,
    numbers: dict[str, Any],
    forward: Decimal,
) -> PositionOutcome:
    repo = run.state.repo
    deadline = run.clock.now() + timedelta(minutes=run.cfg.execution.risk_exit_retry_minutes)
    held = row.contracts
    rule = decision.action
    outcome: OrderOutcome | None = None
    while True:
        attempt = len([o for o in repo.orders(row.id) if o.kind == "exit"]) + 1
        repo.transition(row.id, "closing", run.clock.now())
        outcome = await _exit_order(run, row, view, decision, attempt, held, market, forward)
        row = await book_exit(run, row, outcome, rule, market.spot)
        held = row.contracts
        done = held == 0 or outcome.refused is not None or outcome.reject_reason is not None
        if done or not decision.is_risk_exit or run.clock.now() >= deadline:
            break
        # a risk exit keeps working: fresh quotes, and the next ladder crosses further
        short = await run.clients.deribit.ticker(row.short_instrument)
        long = await run.clients.deribit.ticker(row.long_instrument)
        view = position_view(row, repo.proposal_of(row.id))
        fresh = evaluate(
            ExitSnapshot(
                view, short, long, market.spot, run.clock.now(), market.dvol, market.ret4h
            ),
            run.cfg,
        )
        decision = replace(fresh, action=rule, is_risk_exit=True)
    pending = (
        held > 0
        and decision.is_risk_exit
        and outcome.refused is None
        and outcome.reject_reason is None
    )
    repo.set_exit_pending(row.id, rule if pending else None, run.clock.now())
    order = outcome.summary()
    if held == 0:
        status = "closed"
    elif held < view.contracts:
        status = "closed_partial"
    else:
        status = "close_unfilled"
    reasons = ["exit_pending"] if pending else []
    if outcome.refused:
        reasons.append(outcome.refused)
    if outcome.reject_reason:
        reasons.append(f"rejected:{outcome.reject_reason}")
        await run.alerts.emit(
            "HIGH",
            "broker",
            f"exit_rejected:{row.id}",
            f"exit of {row.id} rejected: {outcome.reject_reason}; the position stays open",
        )
    elif status != "closed":
        await run.alerts.emit(
            "HIGH",
            "monitor",
            f"exit_unfilled:{row.id}",
            f"{rule} for {row.id}: {held} contract(s) still open"
            f"{f' ({outcome.refused})' if outcome.refused else ''}; no order is left working; "
            + (
                "the exit is pending: the next hourly run crosses further"
                if pending
                else "the next monitor run tries again"
            ),
        )
    return PositionOutcome(row.id, status, rule, reasons, numbers, order)


async def _exit_order(
    run: Run,
    row: PositionRow,
    view: PositionView,
    decision: ExitDecision,
    attempt: int,
    held: int,
    market: Market,
    forward: Decimal,
) -> OrderOutcome:
    label = labels.make(row.id, "exit", attempt)
    option_type = view.option_type
    legs = [
        {"instrument_name": row.short_instrument, "direction": "buy"},
        {"instrument_name": row.long_instrument, "direction": "sell"},
    ]
    guarded = GuardedOrder(
        kind="exit",
        proposal_id=row.id,
        label=label,
        attempt=attempt,
        legs=(
            (row.short_instrument, "buy", option_type, row.short_strike, row.expiry),
            (row.long_instrument, "sell", option_type, row.long_strike, row.expiry),
        ),
        side="buy",
        amount=held,
        price=decision.ladder[0],
        width_usd=view.width_usd,
        forward=forward,
        spread_type=row.spread_type,
        held=held,
        sizing_loss_eur=Decimal(0),
    )
    ladder = _ladder(run, decision, attempt)
    guarded = GuardedOrder(**{**guarded.__dict__, "price": ladder[0]})
    cap = ladder[-1]

    async def reprice(step: int) -> Decimal | None:
        s = await run.clients.deribit.ticker(row.short_instrument)
        lg = await run.clients.deribit.ticker(row.long_instrument)
        fresh = evaluate(
            ExitSnapshot(view, s, lg, market.spot, run.clock.now(), market.dvol, market.ret4h),
            run.cfg,
        )
        steps = run.cfg.execution.reprice_steps
        fresh_ladder = _ladder(run, replace(fresh, is_risk_exit=decision.is_risk_exit), attempt)
        return min(fresh_ladder[min(step, steps)], cap)  # never above this ladder's cap

    return await work_order(
        run,
        OrderPlan(
            position_id=row.id,
            kind="exit",
            attempt=attempt,
            guarded=guarded,
            legs=legs,
            ladder=ladder,
            reprice=reprice,
            risk_exit=decision.is_risk_exit,
            sent_point="after_exit_sent",
        ),
    )


def _ladder(run: Run, decision: ExitDecision, attempt: int) -> tuple[Decimal, ...]:
    """Attempt 1 (and every non-risk exit): mid to touch. A risk exit's later attempts,
    in this run or the next, cross the touch step by step up to the width's cap."""
    if not decision.is_risk_exit or attempt <= 1:
        return decision.ladder
    x = run.cfg.execution
    return crossing_ladder(
        decision.debit_touch,
        decision.ladder_cap,
        attempt - 1,
        x.risk_exit_cross_steps,
        x.reprice_steps,
        x.combo_tick,
    )


async def _expire(run: Run, row: PositionRow, view: PositionView) -> PositionOutcome:
    """Book a position held through expiry from the delivery price."""
    prices = await run.clients.deribit.delivery_prices(10)
    settle = prices.get(view.expiry.date().isoformat())
    if settle is None:
        return PositionOutcome(row.id, "skipped", reasons=["no_delivery_price"])
    if not run.dry_run:
        await book_expiry(run, row, view, settle)
    return PositionOutcome(row.id, "expired", "EXPIRED", numbers={"delivery": str(settle)})
