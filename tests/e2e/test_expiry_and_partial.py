"""Held to expiry: booked from the delivery price. A partial entry: opens what filled."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.e2e.scripted import at, scripted_workspace


def test_a_position_held_through_expiry_is_booked_from_the_delivery_price(tmp_path: Path) -> None:
    # no exit rule can fire: the spread is held to its expiry (Friday 2026-03-13 08:00 UTC)
    ws = scripted_workspace(
        tmp_path,
        "flat",
        "exit:\n  time_exit_hours: 0\n"
        "  take_profit_pct_of_credit: 0.99\n"
        "  stop_loss_multiple_of_credit: 50\n  short_delta_breach: 0.99\n",
    )
    code, entry = ws.json("entry-run", now=at(0))
    assert (code, entry["status"]) == (0, "entered"), entry
    assert ws.json("monitor-run", now=at(160))[1]["status"] == "held"
    code, out = ws.json("monitor-run", now=at(262))  # Friday 12:00, after the 08:00 expiry
    assert (code, out["status"]) == (0, "expired"), out
    status, reason, pnl_eth, debit = ws.query(
        "SELECT status, close_reason, realized_pnl_eth, close_debit_eth FROM positions"
    )[0]
    assert (status, reason) == ("expired", "EXPIRED")
    assert Decimal(debit) == 0  # spot 3000 ended above both put strikes: worthless
    credit = Decimal(entry["order"]["average_price"])
    fees = sum(Decimal(str(f[0])) for f in ws.query("SELECT fee FROM fills"))
    n = entry["proposal"]["contracts"]
    assert Decimal(pnl_eth) == n * credit - fees
    # the equity at expiry is booked: the drawdown never reads 0 after an expired winner
    equity, r, booked_fees = ws.query(
        "SELECT equity_eur_at_close, r_multiple, fees_eth FROM positions"
    )[0]
    assert equity is not None and Decimal(equity) > 0
    assert r is not None and r > 0
    assert Decimal(booked_fees) == fees
    assert "EXPIRED" in ws.audit_events()
    assert ws.query("SELECT instrument_name FROM positions", "paper.sqlite") == []


def test_a_partial_entry_fill_opens_a_position_of_the_filled_size(tmp_path: Path) -> None:
    # the tickers overstate the book, so sizing asks for more than the top of book holds
    extra = (
        "  starting_equity_eth: 1000\n"  # continues the paper: section
        "sizing:\n  max_loss_per_trade_eur: 1000000\n  max_contracts: 2000\n"
        "kelly:\n  prior_fraction: 0.5\n  risk_fraction_max: 0.2\n"
    )
    ws = scripted_workspace(tmp_path, "flat", extra)
    overstated = {"override": {"best_bid_amount": 100000, "best_ask_amount": 100000}}
    code, out = ws.json("entry-run", now=at(0), faults={"deribit.ticker": overstated})
    assert code == 0, out
    assert out["status"] == "entered_partial"
    filled = out["order"]["filled"]
    assert 0 < filled < out["proposal"]["contracts"]
    assert ws.query("SELECT status, contracts FROM positions") == [("open", filled)]
    held = dict(ws.query("SELECT instrument_name, size FROM positions", "paper.sqlite"))
    assert sorted(abs(float(v)) for v in held.values()) == [filled, filled]
    # the worst case and the breakeven are those of the credit received, on what filled
    credit = Decimal(out["order"]["average_price"])
    short_strike = Decimal(str(out["proposal"]["short"]["strike"]))
    max_loss, breakeven = ws.query("SELECT max_loss_usd, breakeven_usd FROM positions")[0]
    assert Decimal(breakeven) == short_strike / (1 + credit)
    per_contract = Decimal(out["proposal"]["max_loss_usd"]) / out["proposal"]["contracts"]
    assert Decimal(max_loss) == per_contract * filled
    # closed later: R is on the contracts that opened, not on those proposed
    ws.json("monitor-run", now=at(262))
    pnl_eur, sizing, proposed, r = ws.query(
        "SELECT realized_pnl_eur, sizing_loss_eur, contracts_proposed, r_multiple FROM positions"
    )[0]
    assert r is not None
    assert r == float(Decimal(pnl_eur) / (Decimal(sizing) * filled / proposed))
