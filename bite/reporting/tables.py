"""Rich tables for the terminal (presentation only)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def paper_status_tables(status: dict[str, Any], console: Console | None = None) -> None:
    """Print the paper account, its positions and its recent orders."""
    out = console or Console()
    account = status["account"]
    summary = Table(title=f"Paper account (generation {status['generation']}) at {status['time']}")
    for column in ("equity ETH", "available ETH", "initial margin ETH"):
        summary.add_column(column, justify="right")
    summary.add_row(
        f"{account['equity']:.4f}",
        f"{account['available_funds']:.4f}",
        f"{account['initial_margin']:.4f}",
    )
    out.print(summary)
    positions = Table(title="Positions")
    for column in ("instrument", "size", "average price"):
        positions.add_column(column)
    for p in status["positions"]:
        positions.add_row(p["instrument_name"], f"{p['size']:+g}", f"{p['average_price']:.4f}")
    out.print(positions)
    orders = Table(title="Orders (newest first)")
    for column in ("order", "label", "side", "amount", "filled", "price", "state"):
        orders.add_column(column)
    for o in status["orders"]:
        orders.add_row(
            o["order_id"],
            o["label"],
            o["direction"],
            f"{o['amount']:g}",
            f"{o['filled_amount']:g}",
            f"{o['price']:.4f}",
            o["order_state"],
        )
    out.print(orders)
