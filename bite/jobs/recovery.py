"""Recovery (docs/operations.md 5): make SQLite and the broker agree after a run that died.

A run never leaves an order working, so every ``bite-`` order still open at the
broker belongs to a dead run: it is cancelled first, and the cancel's answer
gives its final filled amount. Then each live position is settled by what the
broker says, pass after pass until a pass changes nothing; a second run changes
nothing. Positions the broker holds that no row explains, or sizes that differ,
are an integrity fault: CRITICAL, kill switch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bite.clients.deribit_json import BrokerOrder, BrokerTrade
from bite.core import labels
from bite.jobs.booking import book_exit, opened_fields, proposal_values
from bite.jobs.boot import Run
from bite.jobs.hedge import reconcile as reconcile_hedge
from bite.jobs.orders import OrderOutcome, combo_average, store_fills
from bite.state.models import OrderRow, PositionRow
from bite.state.repository import parse_iso_z

log = logging.getLogger("bite.recovery")
MAX_PASSES = 5


@dataclass
class RecoveryReport:
    """What recovery found and did (or, in a dry run, would do)."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    inconsistencies: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) changed."""
        return bool(self.actions)


async def _broker_order(run: Run, row: OrderRow) -> BrokerOrder | None:
    found = await run.clients.deribit.orders_by_label(row.label, historical=True)
    if row.broker_order_id:
        for order in found:
            if order.order_id == row.broker_order_id:
                return order
    return found[-1] if found else None


async def recover(run: Run) -> RecoveryReport:
    """Cancel our working orders, then settle every live position; repeat until stable."""
    report = RecoveryReport()
    d = run.clients.deribit
    for order in await d.open_orders():
        if not labels.is_ours(order.label):
            continue
        report.actions.append(
            {"action": "cancel", "label": order.label, "order_id": order.order_id}
        )
        if not run.dry_run:
            final = await d.cancel_order(order.order_id)
            run.state.audit.append(
                "RECOVERY_CANCEL",
                {"label": order.label, "order_id": order.order_id, "filled": final.filled_amount},
                run.clock.now(),
            )
    if run.dry_run:
        await _settle(run, report, dry_run=True)
        return report
    for _ in range(MAX_PASSES):
        before = len(report.actions)
        await _settle(run, report, dry_run=False)
        if len(report.actions) == before:
            break
    report.actions.extend(await reconcile_hedge(run))  # the hedge's orders, by their labels
    await _check_broker_positions(run, report)
    return report


async def _settle(run: Run, report: RecoveryReport, *, dry_run: bool) -> None:
    repo = run.state.repo
    for row in repo.positions(("proposed", "awaiting_fill", "closing")):
        if row.status in ("proposed", "awaiting_fill"):
            await _settle_entry(run, row, report, dry_run)
        else:
            await _settle_exit(run, row, report, dry_run)


async def _final_order(
    run: Run, row: OrderRow, report: RecoveryReport, dry_run: bool
) -> tuple[BrokerOrder | None, list[BrokerTrade]]:
    """The broker's final view of an order row, fills stored (cancelling it if still open)."""
    order = await _broker_order(run, row)
    if order is None:
        return None, []
    if order.state == "open" and not dry_run:
        order = await run.clients.deribit.cancel_order(order.order_id)
    trades = (
        await run.clients.deribit.trades_by_order(order.order_id) if order.filled_amount else []
    )
    if not dry_run:
        store_fills(run, row.id, row.label, trades, event="RECOVERY_FILL")
        run.state.repo.update_order(
            row.id,
            run.clock.now(),
            broker_order_id=order.order_id,
            state=order.state if order.state != "open" else "cancelled",
            filled_amount=order.filled_amount,
            average_price=combo_average(trades, row.side, order.filled_amount),
        )
    return order, trades


async def _settle_entry(run: Run, row: PositionRow, report: RecoveryReport, dry_run: bool) -> None:
    orders = [o for o in run.state.repo.orders(row.id) if o.kind == "entry"]
    filled = 0
    trades: list[BrokerTrade] = []
    for order_row in orders:
        order, got = await _final_order(run, order_row, report, dry_run)
        if order is not None:
            filled += order.filled_amount
            trades += got
    now = run.clock.now()
    if filled > 0:
        credit = combo_average(trades, "sell", filled)
        report.actions.append({"action": "open", "position": row.id, "contracts": filled})
        if not dry_run:
            if row.status == "proposed":
                run.state.repo.transition(row.id, "awaiting_fill", now)
            stored = run.state.repo.proposal_of(row.id)
            if credit is None:  # no leg fill readable: the proposal's credit until they are
                credit = Decimal(str(stored["credit_eth"]))
            run.state.repo.transition(
                row.id, "open", now, **opened_fields(proposal_values(stored), filled, credit, now)
            )
            run.state.audit.append(
                "RECOVERY_OPEN", {"position_id": row.id, "contracts": filled, "credit": credit}, now
            )
    else:
        report.actions.append({"action": "cancel_position", "position": row.id})
        if not dry_run:
            run.state.repo.transition(row.id, "cancelled", now)
            run.state.audit.append("RECOVERY_CANCELLED", {"position_id": row.id}, now)


async def _settle_exit(run: Run, row: PositionRow, report: RecoveryReport, dry_run: bool) -> None:
    exits = [o for o in run.state.repo.orders(row.id) if o.kind == "exit"]
    last = exits[-1] if exits else None
    order, trades = (await _final_order(run, last, report, dry_run)) if last else (None, [])
    filled = order.filled_amount if order else 0
    report.actions.append({"action": "settle_exit", "position": row.id, "filled": filled})
    if dry_run:
        return
    index, _ = await run.clients.deribit.index_price()
    outcome = OrderOutcome(
        last.id if last else 0,
        order.order_id if order else None,
        order.state if order else "cancelled",
        filled,
        combo_average(trades, "buy", filled),
        trades,
    )
    await book_exit(run, row, outcome, row.close_reason or "RECOVERY", index)
    run.state.audit.append(
        "RECOVERY_EXIT", {"position_id": row.id, "filled": filled}, run.clock.now()
    )


async def _check_broker_positions(run: Run, report: RecoveryReport) -> None:
    """Compare the broker's option positions with the open rows; a difference arms the switch."""
    expected: dict[str, Decimal] = {}
    now = run.clock.now()
    for row in run.state.repo.positions(("open", "closing")):
        if parse_iso_z(row.expiry) <= now:
            continue  # the monitor books what expired
        expected[row.short_instrument] = (
            expected.get(row.short_instrument, Decimal(0)) - row.contracts
        )
        expected[row.long_instrument] = (
            expected.get(row.long_instrument, Decimal(0)) + row.contracts
        )
    held = {p.instrument_name: p.size for p in await run.clients.deribit.positions()}
    problems = []
    for name in sorted(set(expected) | set(held)):
        if expected.get(name, Decimal(0)) != held.get(name, Decimal(0)):
            problems.append(f"{name}: ours {expected.get(name, 0)}, broker {held.get(name, 0)}")
    if problems:
        report.inconsistencies.extend(problems)
        await run.alerts.emit(
            "CRITICAL",
            "recovery",
            "recovery_inconsistency",
            "broker and SQLite disagree: " + "; ".join(problems),
            integrity=True,
        )
