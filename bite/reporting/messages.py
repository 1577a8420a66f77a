"""Telegram texts a person can read on a phone: what happened, the numbers, what comes next."""

from __future__ import annotations

from decimal import Decimal

from bite.clients.telegram import escape
from bite.core.types import ComboProposal


def _legs(p: ComboProposal) -> str:
    return f"sell {p.short.instrument_name} / buy {p.long.instrument_name}"


def entry_message(p: ComboProposal, filled: int, credit: Decimal, status: str) -> str:
    """The notice of an entry that filled (fully or partly)."""
    kind = "Bull put" if p.spread_type == "bull_put" else "Bear call"
    part = "" if status == "entered" else f" (partial: {filled} of {p.contracts})"
    return (
        f"✅ <b>Entered</b>: {escape(kind)} spread x{filled}{escape(part)}\n"
        f"{escape(_legs(p))}\n"
        f"Credit {credit:.4f} ETH each (~{credit * p.spot / p.eur_usd:.0f} EUR), "
        f"width {p.width_usd:.0f} USD, max loss ~{p.max_loss_usd / p.contracts * filled:.0f} "
        f"USD\nBreakeven {p.breakeven_usd:.0f} USD at expiry "
        f"{p.expiry:%a %d %b %H:%M} UTC\n"
        f"Next: monitored every run; closes at 50 % profit, 2x stop, a breach, a vol "
        f"shock, or 100 h before expiry."
    )


def close_message(
    position_id: str,
    action: str,
    filled: int,
    debit: Decimal,
    pnl_eur: Decimal,
    r: float | None,
    status: str,
) -> str:
    """The notice of a close."""
    r_text = f", {r:+.2f} R" if r is not None else ""
    return (
        f"🔒 <b>Closed</b> ({escape(action)}) position {escape(position_id)} x{filled}"
        f" ({escape(status)})\nDebit {debit:.4f} ETH each; realized {pnl_eur:+.2f} EUR"
        f"{escape(r_text)}"
    )
