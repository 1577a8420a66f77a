"""Order guards (docs/risk-controls.md 5): checked right before every send or edit.

Independent of ``bite.core``: they re-derive from the order itself that it is
the order the rules meant. A failing guard is a bug: the caller raises a
CRITICAL alert and arms the kill switch (integrity); nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bite.config.schema import StrategyConfig
from bite.core import labels
from bite.core.ticks import is_on_tick

PERPETUAL_TICK = Decimal("0.05")  # ETH-PERPETUAL's tick size (USD)
HEDGE_MAX_PRICE_GAP = Decimal("0.01")


@dataclass(frozen=True)
class GuardedOrder:
    """What is about to be sent."""

    kind: str
    proposal_id: str
    label: str
    attempt: int
    legs: tuple[tuple[str, str, str, Decimal, str], ...]  # (name, direction, type, strike, expiry)
    side: str
    amount: int
    price: Decimal
    width_usd: Decimal
    forward: Decimal
    spread_type: str
    held: int
    sizing_loss_eur: Decimal


def guard_problems(
    order: GuardedOrder, cfg: StrategyConfig, *, combo_tick: Decimal, label_owned_elsewhere: bool
) -> list[str]:
    """Every guard the order breaks (empty: it may go)."""
    problems: list[str] = []
    if order.kind == "entry":
        if order.amount > cfg.sizing.max_contracts:
            problems.append(f"amount {order.amount} > sizing.max_contracts")
        if order.sizing_loss_eur > cfg.sizing.max_loss_per_trade_eur:
            problems.append("sizing loss above sizing.max_loss_per_trade_eur")
    if order.amount < 1:
        problems.append("amount below one contract")
    if not is_on_tick(order.price, combo_tick) or order.price <= 0:
        problems.append(f"price {order.price} not a positive multiple of the combo tick")
    if order.forward > 0 and order.price >= order.width_usd / order.forward:
        problems.append("price not below W / F")
    if len(order.legs) != 2:
        problems.append("a vertical has two legs")
        return problems
    (_, d1, t1, k1, e1), (_, d2, t2, k2, e2) = order.legs
    if t1 != t2 or e1 != e2:
        problems.append("legs differ in type or expiry")
    expected_type = "put" if order.spread_type == "bull_put" else "call"
    if t1 != expected_type:
        problems.append(f"legs are {t1}s for a {order.spread_type}")
    short_first = (k1 > k2) if expected_type == "put" else (k1 < k2)
    if not short_first:
        problems.append("strikes not ordered for the spread type")
    if order.kind == "entry":
        if (d1, d2, order.side) != ("sell", "buy", "sell"):
            problems.append("an entry must sell the short leg and buy the long for a credit")
    else:
        if (d1, d2, order.side) != ("buy", "sell", "buy"):
            problems.append("an exit must buy back the short and sell the long for a debit")
        if order.amount > order.held:
            problems.append(f"exit of {order.amount} > {order.held} held")
    kind: labels.OrderKind = "entry" if order.kind == "entry" else "exit"
    try:
        expected = labels.make(order.proposal_id, kind, order.attempt)
    except ValueError as exc:
        problems.append(f"label: {exc}")
    else:
        if order.label != expected or labels.parse(order.label) is None:
            problems.append(f"label {order.label!r} is not {expected!r}")
    if label_owned_elsewhere:
        problems.append("another order row carries this label")
    return problems


def hedge_guard_problems(
    label: str,
    instrument_name: str,
    side: str,
    amount: int,
    price: Decimal,
    mark: Decimal,
    cfg: StrategyConfig,
) -> list[str]:
    """What is wrong with a hedge order on the perpetual, right before it is sent: the
    label of a hedge, the configured instrument, a size within the cap, a price on the
    0.05 USD tick and within 1 % of the mark (no fat finger)."""
    problems = []
    parsed = labels.parse(label)
    if parsed is None or parsed.kind != "hedge":
        problems.append(f"label {label!r} is not a hedge's")
    if instrument_name != cfg.hedge.instrument:
        problems.append(f"instrument {instrument_name} is not {cfg.hedge.instrument}")
    if side not in ("buy", "sell"):
        problems.append(f"side {side!r}")
    if not 1 <= amount <= cfg.hedge.max_order_usd:
        problems.append(f"amount {amount} outside 1..{cfg.hedge.max_order_usd}")
    if price <= 0 or not is_on_tick(price, PERPETUAL_TICK):
        problems.append(f"price {price} not on the {PERPETUAL_TICK} tick")
    elif mark > 0 and abs(price - mark) / mark > HEDGE_MAX_PRICE_GAP:
        problems.append(f"price {price} more than 1 % from the mark {mark}")
    return problems
