"""Working one combo order end to end (docs/operations.md 4): no order is left working at exit.

The order row is committed before the order is sent. Right before every send
or edit the kill switch is re-read and the guards run. Placement is never
retried blindly: after a lost answer the order is looked up by its label and
adopted; only when the broker has no such order is it sent again, once. Every
``reprice_every_s`` the price moves along a ladder recomputed from fresh
quotes; at ``fill_timeout_s`` the order is cancelled, and the cancel's answer
gives the final filled amount. Fills are stored by ``trade_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from bite.clients.deribit_json import BrokerOrder, BrokerTrade
from bite.errors import McpComboUnavailableError, McpUnavailableError
from bite.jobs.boot import Run
from bite.safety.kill_switch import permission
from bite.safety.order_guards import GuardedOrder, guard_problems
from bite.state.models import NewFill

log = logging.getLogger("bite.orders")
COMBO_UNAVAILABLE = "combo_unavailable"  # the venue will not open the combo book
SETTLEMENT_START = time(7, 30)
SETTLEMENT_END = time(8, 15)
SETTLEMENT_WINDOW = "settlement_window"  # nothing is sent; the next run sends

Reprice = Callable[[int], Awaitable[Decimal | None]]


@dataclass
class OrderOutcome:
    """How an order ended."""

    order_row: int
    broker_order_id: str | None
    state: str
    filled: int
    average_price: Decimal | None
    trades: list[BrokerTrade] = field(default_factory=list)
    refused: str | None = None
    reject_reason: str | None = None
    prices: list[Decimal] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The order as a job's JSON reports it."""
        return {
            "order_id": self.broker_order_id,
            "state": self.state,
            "filled": self.filled,
            "average_price": str(self.average_price) if self.average_price else None,
            "prices": [str(p) for p in self.prices],
            "refused": self.refused,
            "reject_reason": self.reject_reason,
        }


def in_settlement(now: datetime) -> bool:
    """Whether ``now`` is inside Deribit's daily settlement window (07:30-08:15 UTC).

    ETH options expire and everything settles at 08:00 UTC every day; the delivery
    price is the index's average over the 30 minutes before (docs/runbook.md).
    """
    return SETTLEMENT_START <= now.astimezone(UTC).time() < SETTLEMENT_END


async def _may_send(run: Run, guarded: GuardedOrder, risk_exit: bool) -> str | None:
    """Re-read the switch and run the guards; the reason not to send, or None."""
    switch = run.state.kill_switch.status()
    verdict = permission(
        switch,
        order="entry" if guarded.kind == "entry" else "exit",
        risk_exit=risk_exit,
        exits_when_operational=run.cfg.kill_switch.exits_when_operational,
    )
    if not verdict.allowed:
        return "kill_switch_armed"
    existing = run.state.repo.order_by_label(guarded.label)
    owned_elsewhere = existing is not None and existing.position_id != guarded.proposal_id
    problems = guard_problems(
        guarded,
        run.cfg,
        combo_tick=run.cfg.execution.combo_tick,
        label_owned_elsewhere=owned_elsewhere,
    )
    if problems:
        await run.alerts.emit(
            "CRITICAL",
            "order_guard",
            "order_guard",
            f"order {guarded.label} blocked: {'; '.join(problems)}",
            integrity=True,
        )
        return "order_guard"
    return None


async def _place(run: Run, guarded: GuardedOrder, legs: list[dict[str, str]]) -> BrokerOrder:
    """Place once; after a lost answer adopt the order found by label, or send once more."""
    d = run.clients.deribit
    try:
        result = await d.place_combo_order(
            legs, guarded.side, guarded.amount, guarded.price, guarded.label
        )
        return result.order
    except McpUnavailableError as exc:
        log.warning("no answer to placing %s (%s): looking it up by label", guarded.label, exc)
        found = await d.orders_by_label(guarded.label)
        if found:
            log.warning("order %s was accepted: adopting %s", guarded.label, found[0].order_id)
            return found[0]
        log.warning("the broker has no order %s: sending it once more", guarded.label)
        result = await d.place_combo_order(
            legs, guarded.side, guarded.amount, guarded.price, guarded.label
        )
        return result.order


@dataclass(frozen=True)
class OrderPlan:
    """One order a cycle wants worked: what it is, its ladder, how to reprice it."""

    position_id: str
    kind: str  # entry or exit
    attempt: int
    guarded: GuardedOrder
    legs: list[dict[str, str]]
    ladder: tuple[Decimal, ...]
    reprice: Reprice
    risk_exit: bool
    sent_point: str  # the crash point right after the send


async def work_order(run: Run, plan: OrderPlan) -> OrderOutcome:
    """An order from its row to its fills: the row written first, then may it be sent,
    the send, the ladder worked until filled or the timeout, the cancel, the fills."""
    row_id = run.state.repo.insert_order(
        position_id=plan.position_id,
        kind=plan.kind,
        attempt=plan.attempt,
        label=plan.guarded.label,
        legs=plan.legs,
        side=plan.guarded.side,
        amount=plan.guarded.amount,
        ladder=plan.ladder,
        price=plan.guarded.price,
        now=run.clock.now(),
    )
    refused = await _refused_before_send(run, plan, row_id)
    if refused is not None:
        return refused
    outcome = await _send(run, plan, row_id)
    if outcome.broker_order_id is not None and outcome.state != "rejected":
        await _work_ladder(run, plan, outcome)
        await _cancel_and_collect(run, plan, outcome)
    return outcome


async def _refused_before_send(run: Run, plan: OrderPlan, row_id: int) -> OrderOutcome | None:
    """The kill switch, the guards and the settlement window, right before the send."""
    refusal = await _may_send(run, plan.guarded, plan.risk_exit)
    if refusal is None and in_settlement(run.clock.now()):
        log.warning(
            "Deribit settlement window (07:30-08:15 UTC): %s not sent; the next run sends it",
            plan.guarded.label,
        )
        refusal = SETTLEMENT_WINDOW
    if refusal is None:
        return None
    run.state.repo.update_order(row_id, run.clock.now(), state="cancelled", reject_reason=refusal)
    return OrderOutcome(row_id, None, "cancelled", 0, None, refused=refusal)


async def _send(run: Run, plan: OrderPlan, row_id: int) -> OrderOutcome:
    """Send once (``_place`` finds a lost answer by label); audit what the broker holds."""
    repo, guarded = run.state.repo, plan.guarded
    run.sent_labels.append(guarded.label)  # from here the broker may hold it
    try:
        order = await _place(run, guarded, plan.legs)
    except McpComboUnavailableError as exc:
        # no leg-by-leg fallback: legging a spread is a risk of its own
        log.warning("order %s not placed: %s", guarded.label, exc)
        repo.update_order(
            row_id, run.clock.now(), state="cancelled", reject_reason=COMBO_UNAVAILABLE
        )
        run.state.audit.append(
            "ORDER_CANCELLED",
            {"label": guarded.label, "filled": 0, "reason": COMBO_UNAVAILABLE},
            run.clock.now(),
        )
        return OrderOutcome(row_id, None, "cancelled", 0, None, refused=COMBO_UNAVAILABLE)
    run.checkpoint(plan.sent_point)
    repo.update_order(
        row_id,
        run.clock.now(),
        broker_order_id=order.order_id,
        state=order.state,
        filled_amount=order.filled_amount,
    )
    run.state.audit.append(
        "ORDER_PLACED" if plan.kind == "entry" else "EXIT_PLACED",
        {
            "label": guarded.label,
            "order_id": order.order_id,
            "price": guarded.price,
            "amount": guarded.amount,
            "side": guarded.side,
            "state": order.state,
        },
        run.clock.now(),
    )
    if order.state == "rejected":
        repo.update_order(row_id, run.clock.now(), reject_reason=order.reject_reason)
    return OrderOutcome(
        row_id,
        order.order_id,
        order.state,
        order.filled_amount,
        order.average_price,
        prices=[guarded.price],
        reject_reason=order.reject_reason,
    )


async def _work_ladder(run: Run, plan: OrderPlan, outcome: OrderOutcome) -> None:
    """Every ``reprice_every_s`` until filled or ``fill_timeout_s``: read the order, then
    edit it to the next step of a ladder from fresh quotes (guards and window first)."""
    repo, d, cfg = run.state.repo, run.clients.deribit, run.cfg.execution
    elapsed, step, price = 0.0, 0, plan.guarded.price
    while outcome.state == "open" and elapsed + cfg.reprice_every_s <= cfg.fill_timeout_s:
        await run.clock.sleep(cfg.reprice_every_s)
        elapsed += cfg.reprice_every_s
        step += 1
        current = await d.orders_by_label(plan.guarded.label)
        mine = next((o for o in current if o.order_id == outcome.broker_order_id), None)
        if mine is not None:
            if (mine.state, mine.filled_amount) != (outcome.state, outcome.filled):
                outcome.state, outcome.filled = mine.state, mine.filled_amount
                repo.update_order(
                    outcome.order_row,
                    run.clock.now(),
                    state=mine.state,
                    filled_amount=mine.filled_amount,
                )
            if mine.state != "open":
                return
        new_price = await plan.reprice(step)
        if new_price is None or new_price == price:
            continue
        edit = GuardedOrder(**{**plan.guarded.__dict__, "price": new_price})
        refusal = await _may_send(run, edit, plan.risk_exit)
        if refusal is None and in_settlement(run.clock.now()):
            refusal = SETTLEMENT_WINDOW  # no edit in the window: cancel, the next run sends
        if refusal is not None:
            outcome.refused = refusal
            return
        edited = await d.edit_order(str(outcome.broker_order_id), new_price, plan.legs)
        price = new_price
        outcome.prices.append(new_price)
        outcome.state, outcome.filled = edited.order.state, edited.order.filled_amount
        repo.update_order(
            outcome.order_row,
            run.clock.now(),
            price=new_price,
            state=edited.order.state,
            filled_amount=edited.order.filled_amount,
        )
        run.state.audit.append(
            "ORDER_EDITED",
            {"label": plan.guarded.label, "price": new_price, "step": step},
            run.clock.now(),
        )


async def _cancel_and_collect(run: Run, plan: OrderPlan, outcome: OrderOutcome) -> None:
    """Cancel what still works (the cancel's answer is the final fill), then read and store
    the fills; SQLite knows the order's state before the fills are asked for."""
    repo, d, label = run.state.repo, run.clients.deribit, plan.guarded.label
    order_id = str(outcome.broker_order_id)
    if outcome.state == "open":
        final = await d.cancel_order(order_id)
        outcome.state, outcome.filled = final.state, final.filled_amount
        outcome.average_price = final.average_price
        run.state.audit.append(
            "ORDER_CANCELLED",
            {"label": label, "filled": final.filled_amount, "reason": outcome.refused or "timeout"},
            run.clock.now(),
        )
    repo.update_order(
        outcome.order_row, run.clock.now(), state=outcome.state, filled_amount=outcome.filled
    )
    trades = await d.trades_by_order(order_id) if outcome.filled else []
    if trades:
        run.checkpoint("after_fill_before_commit")
    store_fills(run, outcome.order_row, label, trades, event="FILL")
    outcome.trades = trades
    if outcome.filled and outcome.average_price is None:
        outcome.average_price = combo_average(trades, plan.guarded.side, outcome.filled)
    repo.update_order(
        outcome.order_row,
        run.clock.now(),
        state=outcome.state,
        filled_amount=outcome.filled,
        average_price=outcome.average_price,
    )


def store_fills(
    run: Run, order_row_id: int, label: str, trades: list[BrokerTrade], *, event: str
) -> None:
    """Store the broker's trades of one order (idempotent by ``trade_id``); audit each new one."""
    for trade in trades:
        stored = run.state.repo.add_fill(
            order_row_id,
            NewFill(
                trade.trade_id,
                trade.instrument_name,
                trade.direction,
                trade.amount,
                trade.price,
                trade.fee,
                trade.fee_currency,
                trade.timestamp.isoformat(),
            ),
        )
        if stored:
            run.state.audit.append(
                event,
                {
                    "label": label,
                    "trade_id": trade.trade_id,
                    "instrument": trade.instrument_name,
                    "direction": trade.direction,
                    "amount": trade.amount,
                    "price": trade.price,
                    "fee": trade.fee,
                },
                run.clock.now(),
            )


def combo_average(trades: list[BrokerTrade], side: str, filled: int) -> Decimal | None:
    """The combo's average price from its legs' fills (credit for a sell, debit for a buy)."""
    if not filled:
        return None
    signed = sum(
        (t.price * t.amount * (1 if t.direction == "sell" else -1) for t in trades), Decimal(0)
    )
    value = signed / filled
    return value if side == "sell" else -value
