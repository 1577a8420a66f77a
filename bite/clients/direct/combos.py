"""Deribit combo books and the contract's orientation (pure functions).

Deribit may hand back an existing combo book whose legs point the other way from
the legs asked for: buying it then trades our legs reversed. These functions derive
the side and the sign of the price from the book's legs, and read Deribit's orders
back as the contract's (side, positive price).
"""

from __future__ import annotations

from decimal import Decimal

from bite.clients.direct.jsonrpc import RpcError


def short_first(legs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The combo's legs ordered (short, long): the strike nearer the money is the short."""

    def strike(name: str) -> float:
        return float(name.split("-")[2])

    kind = legs[0][0].rsplit("-", 1)[-1]
    ordered = sorted(legs, key=lambda leg: strike(leg[0]), reverse=(kind == "P"))
    return ordered


def orientation(combo_legs: list[tuple[str, int]], wanted: dict[str, str]) -> int:
    """+1 when buying the combo trades our legs as wanted, -1 when selling does."""
    signs = {name: (1 if amount > 0 else -1) for name, amount in combo_legs}
    along = all((signs[n] > 0) == (d == "buy") for n, d in wanted.items())
    against = all((signs[n] > 0) == (d == "sell") for n, d in wanted.items())
    if along:
        return 1
    if against:
        return -1
    raise RpcError("private/create_combo", 11029, "the combo's legs match neither direction")


def deribit_order(side: str, price: Decimal, orient: int) -> tuple[str, Decimal]:
    """Our (side, positive price) -> Deribit's (method direction, combo price)."""
    cash = price if side == "sell" else -price  # what we receive per unit
    if orient == 1:
        return "buy", -cash  # buying pays X: -X = cash
    return "sell", cash  # selling receives X


def contract_price(direction: str, price: Decimal) -> tuple[str, Decimal]:
    """Deribit's (direction, combo price) -> our (side, positive price)."""
    cash = -price if direction == "buy" else price
    return ("sell" if cash > 0 else "buy"), abs(cash)
