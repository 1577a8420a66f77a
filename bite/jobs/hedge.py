"""The collateral hedge (docs/strategy.md 14): one rebalancing step after a cycle.

monitor-run takes it every hour after its exit decisions, entry-run after a fill. The
step reads the account's equity, the perpetual's ticker and position; the target short
comes from ``core.hedge`` (reduced, with an alert, when funding costs a short more than
``hedge.max_funding_pct_per_year``); inside the band nothing is sent. Otherwise one
order, at most ``hedge.max_order_usd``, goes at the touch with a ``bite-h<minute>``
label: its row first, then the kill switch (a hedge may go when the switch is armed for
an operational reason, never for integrity), the guards and the settlement window, the
send, the fills. An order the touch did not take is cancelled: nothing is left working,
and the next run starts again from what the account holds (never a loop within a run).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bite.clients.deribit_json import BrokerOrder
from bite.clock import iso_z
from bite.core import labels
from bite.core.hedge import funding_cost_pct_per_year, rebalance, target_short_usd
from bite.errors import McpError, McpUnavailableError
from bite.jobs.boot import Run
from bite.jobs.orders import in_settlement
from bite.safety.kill_switch import permission
from bite.safety.order_guards import hedge_guard_problems
from bite.state.hedge import UNSETTLED, HedgeOrderRow

log = logging.getLogger("bite.hedge")
STATE_KEY = "hedge"


@dataclass(frozen=True)
class Fill:
    """What the broker says became of a hedge order."""

    order_id: str
    state: str
    filled: int
    average_price: Decimal | None
    fee_eth: Decimal


async def hedge_step(run: Run, why: str) -> dict[str, Any] | None:
    """Rebalance the hedge once (None when ``hedge.mode`` is none); what it found and did.

    A service failure ends the step, not the run: the cycle's own decisions stand, a
    HIGH alert names the failure, and an order left unsettled is reconciled by the next
    step (or by ``bite recover``) from its label."""
    if run.cfg.hedge.mode == "none":
        return None
    try:
        return await _step(run, why)
    except McpError as exc:
        run.hedge_settled = False  # its order may be left working: the next step looks
        await run.alerts.emit("HIGH", "hedge", "hedge_error", f"hedge step failed: {exc}")
        return {"why": why, "status": "error", "error": str(exc), "outside_band": None}


async def _step(run: Run, why: str) -> dict[str, Any]:
    cfg = run.cfg.hedge
    d = run.clients.deribit
    now = run.clock.now()
    if not run.dry_run and not run.hedge_settled:
        # an order an earlier run (or a failed step) left unsettled is adopted first; a
        # step that ends settles its own order, so a run asks once (a backtest's run
        # takes a step every hour)
        await reconcile(run)
        run.hedge_settled = True
    # one read after another: an hourly job gains nothing from overlapping three reads,
    # and a backtest replays one step an hour (scheduling them as tasks was a fifth of it)
    account = await d.account_summary()
    quote = await d.perp_ticker(cfg.instrument)
    position = await d.perp_position(cfg.instrument)
    delta = spread_delta_eth(run) if cfg.target == "collateral_and_options" else Decimal(0)
    target = target_short_usd(account.equity, quote.mark, delta, cfg.target)
    funding = funding_cost_pct_per_year(quote.funding_8h)
    reasons: list[str] = []
    if funding > Decimal(str(cfg.max_funding_pct_per_year)):
        target = (target * Decimal(str(cfg.funding_reduced_fraction))).quantize(Decimal(1))
        reasons.append("funding_reduced")
        await run.alerts.emit(
            "MEDIUM",
            "hedge",
            "hedge_funding",
            f"the hedge's short pays {funding:.1f} % a year in funding (more than "
            f"{cfg.max_funding_pct_per_year:g} %): reduced to "
            f"{cfg.funding_reduced_fraction:.0%} of its target",
        )
    short = -position.size_usd
    band = cfg.band_pct / 100 * account.equity * quote.mark
    view: dict[str, Any] = {
        "why": why,
        "at": iso_z(now),
        "target_usd": str(target),
        "short_usd": str(short),
        "drift_usd": str(target - short),
        "band_usd": str(band.quantize(Decimal(1))),
        "mark": str(quote.mark),
        "funding_pct_per_year": f"{funding:.2f}",
        "funding_received_eth": str(position.realized_funding_eth),  # negative: paid
        "reasons": reasons,
    }
    order = rebalance(target, short, account.equity, quote.mark, cfg.band_pct, cfg.max_order_usd)
    if order is None:
        return _keep(run, {**view, "status": "inside_band", "outside_band": False})
    price = quote.bid if order.side == "sell" else quote.ask
    amount = int(order.amount_usd)
    plan = {"side": order.side, "amount_usd": amount, "price": str(price)}
    if run.dry_run:
        return {**view, "status": "would_hedge", "order": plan, "outside_band": True}
    refusal = _refusal(run)
    label = labels.make_hedge(now)
    if refusal is None and run.state.repo.hedge_order_by_label(label) is not None:
        refusal = "hedged_this_minute"
    if refusal is None:
        problems = hedge_guard_problems(
            label, cfg.instrument, order.side, amount, price, quote.mark, run.cfg
        )
        if problems:
            await run.alerts.emit(
                "CRITICAL",
                "order_guard",
                "hedge_guard",
                f"hedge order {label} blocked: {'; '.join(problems)}",
                integrity=True,
            )
            refusal = "order_guard"
    if refusal is not None:
        log.warning("hedge order not sent: %s", refusal)
        return _keep(run, {**view, "status": "refused", "refused": refusal, "outside_band": True})
    fill = await _send(run, label, order.side, amount, price, target, why)
    return _keep(
        run,
        {
            **view,
            "status": "filled" if fill.filled else "not_filled",
            "order": {**plan, "label": label, "filled": fill.filled, "fee_eth": str(fill.fee_eth)},
            "outside_band": fill.filled < amount,
        },
    )


def _refusal(run: Run) -> str | None:
    switch = run.state.kill_switch.status()
    verdict = permission(switch, order="hedge", risk_exit=False, exits_when_operational="none")
    if not verdict.allowed:
        return "kill_switch_armed"
    if in_settlement(run.clock.now()):
        return "settlement_window"
    return None


async def _send(
    run: Run, label: str, side: str, amount: int, price: Decimal, target: Decimal, why: str
) -> Fill:
    """Row first, then the order once (a lost answer is found by label), then its fills."""
    repo, d, cfg = run.state.repo, run.clients.deribit, run.cfg.hedge
    now = run.clock.now()
    row_id = repo.insert_hedge_order(label, cfg.instrument, side, amount, price, target, why, now)
    run.sent_labels.append(label)
    try:
        order = (await d.place_order(cfg.instrument, side, amount, price, label)).order
    except McpUnavailableError as exc:
        log.warning("no answer to hedge order %s (%s): looking it up by label", label, exc)
        found = await d.orders_by_label(label, historical=True)
        if not found:
            repo.update_hedge_order(
                row_id,
                now,
                state="cancelled",
                broker_order_id=None,
                filled_amount=0,
                average_price=None,
                fee_eth=Decimal(0),
            )
            return Fill("", "cancelled", 0, None, Decimal(0))
        order = found[0]
    order_id = order.order_id
    run.checkpoint("after_hedge_sent")
    run.state.audit.append(
        "HEDGE_PLACED",
        {
            "label": label,
            "order_id": order_id,
            "side": side,
            "amount_usd": amount,
            "price": str(price),
            "target_usd": str(target),
            "why": why,
        },
        run.clock.now(),
    )
    fill = await _final(run, order)
    _record(run, row_id, label, fill)
    return fill


async def _final(run: Run, order: BrokerOrder) -> Fill:
    """The order's final state: cancelled if the touch did not take it, with its fees."""
    d = run.clients.deribit
    if order.state == "open":
        order = await d.cancel_order(order.order_id)  # filled meanwhile: comes back filled
    trades = await d.trades_by_order(order.order_id) if order.filled_amount else []
    fee = sum((t.fee for t in trades), Decimal(0))
    amount = sum((t.amount for t in trades), Decimal(0))
    average = (
        amount / sum((t.amount / t.price for t in trades), Decimal(0)) if amount else None
    )  # the harmonic mean: each contract is 1 USD
    state = order.state if order.state != "open" else "cancelled"
    return Fill(order.order_id, state, order.filled_amount, average, fee)


def _record(run: Run, row_id: int, label: str, fill: Fill, *, recovered: bool = False) -> None:
    run.state.repo.update_hedge_order(
        row_id,
        run.clock.now(),
        state=fill.state,  # type: ignore[arg-type]
        broker_order_id=fill.order_id or None,
        filled_amount=fill.filled,
        average_price=fill.average_price,
        fee_eth=fill.fee_eth,
    )
    if fill.filled:
        run.state.audit.append(
            "HEDGE_FILLED",
            {
                "label": label,
                "order_id": fill.order_id,
                "filled_usd": fill.filled,
                "average_price": str(fill.average_price),
                "fee_eth": str(fill.fee_eth),
                "recovered": recovered,
            },
            run.clock.now(),
        )


async def reconcile(run: Run) -> list[dict[str, Any]]:
    """Settle every hedge order SQLite does not know the end of, from the broker (by its
    label): a row whose order never reached the broker is cancelled; one that did is
    brought to its final state, cancelled first if still working."""
    d = run.clients.deribit
    done: list[dict[str, Any]] = []
    for row in run.state.repo.hedge_orders(UNSETTLED):
        found = await d.orders_by_label(row.label, historical=True)
        if not found:
            fill = Fill("", "cancelled", 0, None, Decimal(0))
        else:
            fill = await _final(run, _pick(row, found))
        _record(run, row.id, row.label, fill, recovered=True)
        done.append(
            {"action": "hedge", "label": row.label, "state": fill.state, "filled_usd": fill.filled}
        )
    return done


def _pick(row: HedgeOrderRow, found: list[BrokerOrder]) -> BrokerOrder:
    return next((o for o in found if o.order_id == row.broker_order_id), found[-1])


def spread_delta_eth(run: Run) -> Decimal:
    """The open spreads' delta in ETH: monitor-run's last evaluation, or the proposal's."""
    repo = run.state.repo
    total = Decimal(0)
    for row in repo.positions(("open", "closing")):
        found = repo.last_evaluation(row.id)
        if found is not None and "net_delta" in found[2]:
            total += Decimal(str(found[2]["net_delta"]))
            continue
        greeks = repo.proposal_of(row.id).get("greeks", {})
        scale = Decimal(row.contracts) / max(row.contracts_proposed, 1)
        total += Decimal(str(greeks.get("delta", 0))) * scale
    return total


def _keep(run: Run, view: dict[str, Any]) -> dict[str, Any]:
    """Remember the step (``bite status``, health-run's band check) and return it, with
    how many steps in a row ended outside the band."""
    if view["outside_band"]:  # the count goes on from the last step's
        before = run.state.repo.get_state(STATE_KEY) or {}
        view["outside_runs"] = int(before.get("outside_runs", 0)) + 1
    else:
        view["outside_runs"] = 0
    if not run.dry_run:
        run.state.repo.set_state(STATE_KEY, view, run.clock.now())
    return view
