"""What a closed part of a spread realized: P&L, fees and R (docs/strategy.md 8, 10).

Pure arithmetic, in ``Decimal``. One position may close in parts (partial exits)
and the rest may expire; each part carries its share of the entry fees, and the
shares telescope so that the parts add up to the whole trade. R has one
definition: the trade's realized EUR over the sizing loss of the contracts that
*opened* (a partial entry fill scales the proposal's sizing loss down).

Expiry: Deribit's ETH options are inverse: a leg's value at delivery is its
intrinsic value in USD over the delivery price, in ETH. The delivery fee is
charged on every leg that expires in the money (``core.fees.delivery_fee``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bite.config.schema import FeesConfig
from bite.core.fees import delivery_fee
from bite.core.types import Bias, OptionType

ZERO = Decimal(0)


@dataclass(frozen=True)
class PartBooked:
    """One part of a position closed: its P&L in ETH and the fees it carries."""

    contracts: int
    pnl_eth: Decimal
    fees_eth: Decimal  # the entry fees' share plus this part's own fees


def entry_fee_share(entry_fees: Decimal, opened: int, closed_before: int, closing: int) -> Decimal:
    """The entry fees that ``closing`` contracts carry, after ``closed_before`` closed.

    Written as a difference of cumulative shares, so that the parts of one
    position always add up to ``entry_fees``.
    """
    if opened <= 0:
        return entry_fees if closed_before == 0 else ZERO
    done = min(closed_before + closing, opened)
    return entry_fees * done / opened - entry_fees * min(closed_before, opened) / opened


def exit_part(
    filled: int,
    credit_eth: Decimal,
    debit_eth: Decimal,
    exit_fees_eth: Decimal,
    *,
    entry_fees_eth: Decimal,
    opened: int,
    closed_before: int,
) -> PartBooked:
    """An exit order's fill: ``filled`` contracts bought back at ``debit_eth`` each."""
    share = entry_fee_share(entry_fees_eth, opened, closed_before, filled)
    pnl = filled * (credit_eth - debit_eth) - share - exit_fees_eth
    return PartBooked(filled, pnl, share + exit_fees_eth)


def intrinsic_eth(option_type: OptionType, strike: Decimal, settle: Decimal) -> Decimal:
    """One option's value at delivery, in ETH (inverse settlement)."""
    if settle <= 0:
        raise ValueError("a delivery price must be positive")
    usd = max(strike - settle, ZERO) if option_type == "put" else max(settle - strike, ZERO)
    return usd / settle


def expiry_debit(
    option_type: OptionType, short_strike: Decimal, long_strike: Decimal, settle: Decimal
) -> Decimal:
    """What the spread costs per contract at delivery: short leg's value less the long's."""
    return intrinsic_eth(option_type, short_strike, settle) - intrinsic_eth(
        option_type, long_strike, settle
    )


def delivery_fees(
    option_type: OptionType,
    short_strike: Decimal,
    long_strike: Decimal,
    settle: Decimal,
    fees: FeesConfig,
) -> Decimal:
    """The delivery fee per spread: charged on each leg that expires in the money."""
    total = ZERO
    for strike in (short_strike, long_strike):
        value = intrinsic_eth(option_type, strike, settle)
        if value > 0:
            total += delivery_fee(settle, value, settle, fees)
    return total


def expiry_part(
    held: int,
    credit_eth: Decimal,
    option_type: OptionType,
    short_strike: Decimal,
    long_strike: Decimal,
    settle: Decimal,
    fees: FeesConfig,
    *,
    entry_fees_eth: Decimal,
    opened: int,
    closed_before: int,
) -> tuple[PartBooked, Decimal]:
    """The contracts still held at expiry, delivered at ``settle``: (the part, debit each)."""
    debit = expiry_debit(option_type, short_strike, long_strike, settle)
    delivery = held * delivery_fees(option_type, short_strike, long_strike, settle, fees)
    share = entry_fee_share(entry_fees_eth, opened, closed_before, held)
    pnl = held * (credit_eth - debit) - delivery - share
    return PartBooked(held, pnl, share + delivery), debit


def sizing_loss_opened(sizing_loss_eur: Decimal, proposed: int, opened: int) -> Decimal:
    """The sizing loss of the contracts that opened (R's one denominator)."""
    if proposed <= 0:
        return sizing_loss_eur
    return sizing_loss_eur * Decimal(opened) / Decimal(proposed)


def r_multiple(
    pnl_eur: Decimal, sizing_loss_eur: Decimal, proposed: int, opened: int
) -> float | None:
    """The trade's realized EUR in units of its sizing loss on the opened contracts."""
    loss = sizing_loss_opened(sizing_loss_eur, proposed, opened)
    return float(pnl_eur / loss) if loss > 0 else None


def max_loss_usd(
    bias: Bias,
    width_usd: Decimal,
    credit_eth: Decimal,
    long_strike: Decimal,
    fees_usd: Decimal,
    contracts: int,
) -> Decimal:
    """The worst case of the spread in USD, at the credit actually received.

    A bull put loses at most its width plus fees (the credit, in ETH, is worth
    little at the low spot where the loss is largest); a bear call's credit is
    worth most at ``S >= long strike``, so it offsets ``credit * K_long``.
    """
    per_contract = (
        width_usd - credit_eth * long_strike + fees_usd if bias == "bear" else width_usd + fees_usd
    )
    return per_contract * contracts
