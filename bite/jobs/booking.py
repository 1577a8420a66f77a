"""Booking what an exit or an expiry realized, on the position's row.

The arithmetic is ``bite.core.booking`` (pure): a partial exit books the filled
part (its share of the entry fees) and returns the rest to ``open``; the last
fill, or the expiry of what is still held, closes the position with the R of the
whole trade on the contracts that opened, and the account's equity then (the
drawdown's denominator). Earlier parts are never overwritten: each adds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bite.core.booking import exit_part, expiry_part, max_loss_usd, r_multiple
from bite.core.combo_builder import breakeven
from bite.core.types import Bias, ComboProposal, PositionView
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
    opened = _opened(run, row)
    part = exit_part(
        filled,
        row.entry_credit_eth or Decimal(0),
        debit,
        sum((t.fee for t in outcome.trades), Decimal(0)),
        entry_fees_eth=_entry_fees(run, row),
        opened=opened,
        closed_before=max(opened - row.contracts, 0),
    )
    eur_usd = await _eur_usd(run, row)
    pnl_eur = part.pnl_eth * spot / eur_usd
    total_eth = row.realized_pnl_eth + part.pnl_eth
    total_eur = row.realized_pnl_eur + pnl_eur
    left = row.contracts - filled
    fields: dict[str, Any] = {
        "realized_pnl_eth": total_eth,
        "realized_pnl_usd": total_eth * spot,
        "realized_pnl_eur": total_eur,
        "fees_eth": row.fees_eth + part.fees_eth,
        "contracts": left,
        "close_debit_eth": debit,
        "close_reason": action,
    }
    if left == 0:
        fields.update(
            {
                "closed_at": now,
                "equity_eur_at_close": await _equity_eur(run, spot, eur_usd),
                "r_multiple": r_multiple(
                    total_eur, row.sizing_loss_eur, row.contracts_proposed, opened
                ),
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


@dataclass(frozen=True)
class ProposalValues:
    """What the numbers at a fill need from the proposal."""

    bias: Bias
    width_usd: Decimal
    short_strike: Decimal
    long_strike: Decimal
    fees_round_trip_eth: Decimal
    spot: Decimal
    eur_usd: Decimal


def proposal_values(proposal: ComboProposal | dict[str, Any]) -> ProposalValues:
    """From a proposal, or from its stored JSON (``repo.proposal_of``, for recovery)."""
    if isinstance(proposal, dict):
        return ProposalValues(
            proposal["bias"],
            Decimal(str(proposal["width_usd"])),
            Decimal(str(proposal["short"]["strike"])),
            Decimal(str(proposal["long"]["strike"])),
            Decimal(str(proposal["fees_round_trip_eth"])),
            Decimal(str(proposal["spot"])),
            Decimal(str(proposal["eur_usd"])),
        )
    return ProposalValues(
        proposal.bias,
        proposal.width_usd,
        proposal.short.strike,
        proposal.long.strike,
        proposal.fees_round_trip_eth,
        proposal.spot,
        proposal.eur_usd,
    )


def opened_fields(
    values: ProposalValues, filled: int, credit: Decimal, now: datetime
) -> dict[str, Any]:
    """The position's numbers at the fill: the credit received, and the worst case and
    breakeven from that credit (the proposal's were at the ladder's top)."""
    return {
        "contracts": filled,
        "entry_credit_eth": credit,
        "entry_credit_usd": credit * values.spot,
        "entry_credit_eur": credit * values.spot / values.eur_usd,
        "max_loss_usd": max_loss_usd(
            values.bias,
            values.width_usd,
            credit,
            values.long_strike,
            values.fees_round_trip_eth * values.spot,
            filled,
        ),
        "breakeven_usd": breakeven(values.bias, values.short_strike, credit),
        "opened_at": now,
    }


async def _equity_eur(run: Run, spot: Decimal, eur_usd: Decimal) -> Decimal | None:
    """The account's equity in EUR now (the drawdown's denominator); None when unknown."""
    try:
        summary = await run.clients.deribit.account_summary()
    except McpError:
        log.warning("equity at close unknown; the drawdown uses the last known")
        return None
    return summary.equity * spot / eur_usd


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
    """Book the contracts held through expiry at the delivery price ``settle``.

    Earlier partial exits stay booked: this part is added to them, and the R is
    the whole trade's.
    """
    now = run.clock.now()
    opened = _opened(run, row)
    part, debit = expiry_part(
        row.contracts,
        row.entry_credit_eth or Decimal(0),
        view.option_type,
        view.short_strike,
        view.long_strike,
        settle,
        run.cfg.fees,
        entry_fees_eth=_entry_fees(run, row),
        opened=opened,
        closed_before=max(opened - row.contracts, 0),
    )
    eur_usd = await _eur_usd(run, row)
    total_eth = row.realized_pnl_eth + part.pnl_eth
    total_eur = row.realized_pnl_eur + part.pnl_eth * settle / eur_usd
    run.state.repo.transition(
        row.id,
        "expired",
        now,
        realized_pnl_eth=total_eth,
        realized_pnl_usd=total_eth * settle,
        realized_pnl_eur=total_eur,
        fees_eth=row.fees_eth + part.fees_eth,
        close_reason="EXPIRED",
        close_debit_eth=debit,
        r_multiple=r_multiple(total_eur, row.sizing_loss_eur, row.contracts_proposed, opened),
        closed_at=now,
        contracts=row.contracts,
        equity_eur_at_close=await _equity_eur(run, settle, eur_usd),
    )
    run.state.audit.append(
        "EXPIRED", {"position_id": row.id, "delivery_price": settle, "pnl_eur": total_eur}, now
    )
