"""Rows of the state database and the position state machine (docs/operations.md 4)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from bite.errors import IntegrityError

PositionStatus = Literal[
    "proposed", "awaiting_fill", "open", "closing", "closed", "cancelled", "expired"
]
OrderKind = Literal["entry", "exit"]
OrderState = Literal["pending", "open", "filled", "rejected", "cancelled", "untriggered", "unknown"]

TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"awaiting_fill", "open", "cancelled"}),
    "awaiting_fill": frozenset({"open", "cancelled"}),
    "open": frozenset({"closing", "expired"}),
    "closing": frozenset({"closed", "open", "expired"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
    "expired": frozenset(),
}
LIVE_STATUSES: tuple[str, ...] = ("proposed", "awaiting_fill", "open", "closing")


class IllegalTransitionError(IntegrityError):
    """A position was asked to move along an edge the state machine does not have: the
    state cannot be trusted (exit 4)."""

    def __init__(self, position_id: str, current: str, target: str) -> None:
        super().__init__(f"position {position_id}: {current} -> {target} is not allowed")
        self.position_id = position_id
        self.current = current
        self.target = target


def check_transition(position_id: str, current: str, target: str) -> None:
    """Raise unless ``current -> target`` is an edge of the machine."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(position_id, current, target)


@dataclass(frozen=True)
class PositionRow:
    """A position as stored."""

    id: str
    status: PositionStatus
    spread_type: str
    short_instrument: str
    long_instrument: str
    short_strike: Decimal
    long_strike: Decimal
    expiry: str
    contracts: int
    contracts_proposed: int
    entry_credit_eth: Decimal | None
    width_usd: Decimal
    max_loss_usd: Decimal
    sizing_loss_usd: Decimal
    sizing_loss_eur: Decimal
    spot_at_entry: Decimal
    dvol_at_entry: float
    realized_pnl_eth: Decimal
    realized_pnl_eur: Decimal
    fees_eth: Decimal
    r_multiple: float | None
    close_reason: str | None
    created_at: str
    opened_at: str | None
    closed_at: str | None
    sample_id: int | None
    breakeven_usd: Decimal | None = None
    exit_pending_rule: str | None = None  # a risk exit left for the next run
    exit_pending_since: str | None = None


@dataclass(frozen=True)
class OrderRow:
    """An order as stored."""

    id: int
    position_id: str
    kind: str
    attempt: int
    label: str
    legs: list[dict[str, Any]]
    side: str
    amount: int
    ladder: list[str]
    price: Decimal
    broker_order_id: str | None
    state: str
    filled_amount: int
    average_price: Decimal | None
    reject_reason: str | None


@dataclass(frozen=True)
class NewFill:
    """A broker trade to store (idempotent by ``trade_id``)."""

    trade_id: str
    instrument_name: str
    direction: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    timestamp: str


@dataclass(frozen=True)
class ConfigVersion:
    """An approved configuration."""

    id: int
    hash: str
    dump: str
    source_file: str
    approved_at: str
    approved_by: str
    new_sample: bool


@dataclass(frozen=True)
class JobRun:
    """One run of a job."""

    id: int
    job: str
    started_at: str
    finished_at: str | None
    status: str | None
    exit_code: int | None
    dry_run: bool
