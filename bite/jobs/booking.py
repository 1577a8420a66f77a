"""Booking what an exit or an expiry realized: P&L in ETH, USD and EUR, fees, R.

A partial exit books the filled share (entry fees pro rata) and returns the rest to
``open``; the last fill closes the position with the R of the whole trade on the
contracts that opened. An expiry is booked from the delivery price, with the
delivery fee.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from bite.core.types import PositionView
from bite.errors import McpError
from bite.jobs.boot import Run
from bite.jobs.orders import OrderOutcome
from bite.reporting.messages import close_message
from bite.state.models import PositionRow

log = logging.getLogger("bite.monitor")


async def book_exit(
    run: Run, row: PositionRow, outcome: OrderOutcome, action: str, spot: Decimal
) -> PositionRow:
    """Book an exit order's fills on the position; nothing filled returns it to open."""
    repo = run.state.repo
    now = run.clock.now()
    filled = outcome.filled
    if filled <= 0:
        return repo.transition(row.id, "open", now)
    debit = outcome.average_price or Decimal(0)
    credit = row.entry_credit_eth or Decimal(0)
    entry_fees = _entry_fees(run, row)
    exit_fees = sum((t.fee for t in outcome.trades), Decimal(0))
    opened = _opened(run, row)
    share = Decimal(filled) / Decimal(max(row.contracts_proposed, 1))
    fee_share = Decimal(filled) / Decimal(max(opened, 1))
    pnl_eth = filled * (credit - debit) - entry_fees * fee_share - exit_fees
    eur_usd = await _eur_usd(run, row)
    pnl_usd = pnl_eth * spot
    pnl_eur = pnl_usd / eur_usd
    sizing_part = row.sizing_loss_eur * share
    r = float(pnl_eur / sizing_part) if sizing_part > 0 else None
    total_eth = row.realized_pnl_eth + pnl_eth
    total_eur = row.realized_pnl_eur + pnl_eur
    fees_total = row.fees_eth + entry_fees * fee_share + exit_fees
    left = row.contracts - filled
    equity_eur = None
    try:
        summary = await run.clients.deribit.account_summary()
        equity_eur = summary.equity * spot / eur_usd
    except McpError:
        log.warning("equity at close unknown; the drawdown uses the last known")
    fields: dict[str, Any] = {
        "realized_pnl_eth": total_eth,
        "realized_pnl_usd": total_eth * spot,
        "realized_pnl_eur": total_eur,
        "fees_eth": fees_total,
        "contracts": left,
        "close_debit_eth": debit,
        "close_reason": action,
    }
    if left == 0:
        # the R of the whole trade (partial exits included), on the contracts that opened
        whole = row.sizing_loss_eur * Decimal(opened) / Decimal(max(row.contracts_proposed, 1))
        fields.update(
            {
                "closed_at": now,
                "equity_eur_at_close": equity_eur,
                "r_multiple": float(total_eur / whole) if whole > 0 else r,
            }
        )
        updated = repo.transition(row.id, "closed", now, **fields)
        run.state.audit.append(
            "EXIT_FILLED",
            {
                "position_id": row.id,
                "contracts": filled,
                "debit": debit,
                "pnl_eur": total_eur,
                "r": fields["r_multiple"],
                "rule": action,
            },
            now,
        )
        await run.alerts.notify(
            close_message(row.id, action, filled, debit, total_eur, fields["r_multiple"], "closed")
        )
        return updated
    updated = repo.transition(row.id, "open", now, **fields)
    run.state.audit.append(
        "EXIT_FILLED",
        {
            "position_id": row.id,
            "contracts": filled,
            "left": left,
            "debit": debit,
            "pnl_eur": pnl_eur,
            "rule": action,
            "partial": True,
        },
        now,
    )
    return updated


def _opened(run: Run, row: PositionRow) -> int:
    """Contracts the entry filled."""
    return sum(o.filled_amount for o in run.state.repo.orders(row.id) if o.kind == "entry")


def _entry_fees(run: Run, row: PositionRow) -> Decimal:
    total = Decimal(0)
    for order in run.state.repo.orders(row.id):
        if order.kind == "entry":
            total += sum((f.fee for f in run.state.repo.fills(order.id)), Decimal(0))
    return total


async def _eur_usd(run: Run, row: PositionRow) -> Decimal:
    try:
        return (await run.clients.macro.eur_usd()).rate
    except McpError:
        return Decimal(str(run.state.repo.proposal_of(row.id)["eur_usd"]))


async def book_expiry(run: Run, row: PositionRow, view: PositionView, settle: Decimal) -> None:
    """Book a position held through expiry at the delivery price ``settle``."""
    now = run.clock.now()
    if view.option_type == "put":
        short_iv = max(view.short_strike - settle, Decimal(0))
        long_iv = max(view.long_strike - settle, Decimal(0))
    else:
        short_iv = max(settle - view.short_strike, Decimal(0))
        long_iv = max(settle - view.long_strike, Decimal(0))
    debit = (short_iv - long_iv) / settle
    credit = row.entry_credit_eth or Decimal(0)
    fee = (
        min(run.cfg.fees.delivery_fee_pct / 100, Decimal("0.125") * short_iv / settle)
        if short_iv > 0
        else Decimal(0)
    )
    held_share = Decimal(row.contracts) / Decimal(max(_opened(run, row), 1))
    pnl_eth = row.contracts * (credit - debit - fee) - _entry_fees(run, row) * held_share
    eur_usd = await _eur_usd(run, row)
    pnl_eur = pnl_eth * settle / eur_usd
    r = float(pnl_eur / row.sizing_loss_eur) if row.sizing_loss_eur > 0 else None
    run.state.repo.transition(
        row.id,
        "expired",
        now,
        realized_pnl_eth=pnl_eth,
        realized_pnl_usd=pnl_eth * settle,
        realized_pnl_eur=pnl_eur,
        close_reason="EXPIRED",
        close_debit_eth=debit,
        r_multiple=r,
        closed_at=now,
        contracts=row.contracts,
    )
    run.state.audit.append(
        "EXPIRED", {"position_id": row.id, "delivery_price": settle, "pnl_eur": pnl_eur}, now
    )
