"""The collateral hedge end to end on paper: the short follows the account, through a
fall of ETH, a crash between the send and the record, and the kill switch."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.scripted import at, scripted_workspace
from tests.e2e.support import Workspace

HEDGED = "hedge:\n  mode: usd\n  target: collateral_and_options\n  band_pct: 1\n"


def hedge_orders(ws: Workspace) -> list[tuple[Any, ...]]:
    return ws.query("SELECT label, side, amount, state, filled_amount FROM hedge_orders")


def broker_hedges(ws: Workspace) -> list[tuple[Any, ...]]:
    return ws.query(
        "SELECT label, state, filled_amount FROM orders WHERE label LIKE 'bite-h%'",
        "paper.sqlite",
    )


def perp_size(ws: Workspace) -> Decimal:
    return Decimal(ws.query("SELECT size_usd FROM perpetual", "paper.sqlite")[0][0])


def test_the_hedge_holds_the_accounts_usd_value_through_a_fifteen_percent_fall(
    tmp_path: Path,
) -> None:
    ws = scripted_workspace(tmp_path, "fall", HEDGED)
    code, entry = ws.json("entry-run", now=at(0))
    assert (code, entry["status"]) == (0, "entered"), entry
    first = entry["hedge"]
    assert first["status"] == "filled" and first["order"]["side"] == "sell"
    # the target: the collateral (10 ETH at about 3,000 USD) plus the bull put's delta
    assert 30_000 < int(first["order"]["amount_usd"]) < 34_000
    value_before = Decimal(ws.json("paper", "status", now=at(0))[1]["account"]["equity"]) * 3000
    # the week: ETH falls 15 %; the monitor decides twice a day and rebalances
    hedges = []
    for hours in range(4, 170, 12):
        code, run = ws.json("monitor-run", now=at(hours))
        assert code == 0, run
        hedges.append(run["hedge"])
    assert any(h["status"] == "filled" for h in hedges), hedges  # it did rebalance
    assert all(h["status"] in ("inside_band", "filled") for h in hedges)
    assert len({label for label, *_ in hedge_orders(ws)}) == len(hedge_orders(ws))
    # what the account is worth in USD now, against the spreads' own P&L
    status = ws.json("status", now=at(166))[1]
    hedge = status["hedge"]
    assert hedge["outside_band"] is False
    assert "short " in ws.run("status", now=at(166)).stdout  # the table's hedge line
    live = ws.json("status", "--live", now=at(166))[1]["live"]
    # the account's delta in ETH: the collateral's, less the short's (-N / spot)
    assert Decimal(live["hedge_delta_eth"]) < 0
    assert abs(Decimal(live["net_delta_eth"])) < Decimal(live["collateral_delta_eth"]) / 20
    assert "ETH net" in ws.run("status", "--live", now=at(166)).stdout
    assert abs(Decimal(hedge["drift_usd"])) <= Decimal(hedge["band_usd"])
    equity = Decimal(ws.json("paper", "status", now=at(166))[1]["account"]["equity"])
    value_after = equity * Decimal("2550")
    closed = ws.query("SELECT realized_pnl_usd FROM positions WHERE status != 'open'")
    strategy_usd = sum((Decimal(r[0]) for r in closed if r[0] is not None), Decimal(0))
    unhedged_loss = value_before * Decimal("0.15")
    moved = value_after - value_before - strategy_usd
    assert abs(moved) < unhedged_loss / 10, (value_before, value_after, strategy_usd)
    events = ws.audit_events()
    assert events.count("HEDGE_PLACED") == events.count("HEDGE_FILLED") >= 2
    assert ws.run("audit", "verify", now=at(166)).returncode == 0


def test_a_crash_between_sending_the_hedge_and_recording_it_leaves_one_order(
    tmp_path: Path,
) -> None:
    ws = scripted_workspace(tmp_path, "flat", "hedge:\n  mode: usd\n")
    died = ws.run("entry-run", now=at(0), env={"CERBERO_BITE_CRASH_AT": "after_hedge_sent"})
    assert died.returncode == 137
    (row,) = hedge_orders(ws)
    assert row[3] == "pending"  # the row was written first; the process died after the send
    assert len(broker_hedges(ws)) == 1
    code, recovered = ws.json("recover", now=at(0.5))
    assert code == 0, recovered
    (row,) = hedge_orders(ws)
    assert row[3:] == ("filled", row[2])
    assert broker_hedges(ws) == [(row[0], "filled", row[2])]
    assert perp_size(ws) == -row[2]
    assert "HEDGE_FILLED" in ws.audit_events()
    code, later = ws.json("monitor-run", now=at(1))
    assert (code, later["hedge"]["status"]) == (0, "inside_band")
    assert len(broker_hedges(ws)) == 1  # exactly one hedge order at the broker


def test_an_operational_switch_lets_the_hedge_reduce_risk_an_integrity_one_does_not(
    tmp_path: Path,
) -> None:
    ws = scripted_workspace(tmp_path, "flat", "hedge:\n  mode: usd\n")
    assert ws.run("health-run", now=at(0)).returncode == 0
    assert ws.run("kill-switch", "arm", "--no-exits", "--reason", "odd", now=at(0)).returncode == 0
    code, run = ws.json("monitor-run", now=at(1))
    assert run["hedge"]["status"] == "refused", run  # due, but not on untrusted inputs
    assert run["hedge"]["refused"] == "kill_switch_armed"
    assert perp_size(ws) == 0 and hedge_orders(ws) == []
    assert ws.json("monitor-run", now=at(1.5))[1]["hedge"]["outside_runs"] == 2
    code, health = ws.json("health-run", now=at(1.6))
    assert "hedge_outside_band" in health["reasons"], health
    assert "outside its band for 2 runs" in ws.query("SELECT message FROM alerts")[-1][0]
    assert ws.run("kill-switch", "disarm", "--reason", "checked", now=at(1)).returncode == 0
    assert ws.run("kill-switch", "arm", "--reason", "holiday", now=at(1)).returncode == 0
    code, run = ws.json("monitor-run", now=at(2))
    assert (code, run["hedge"]["status"]) == (0, "filled")  # it reduces risk: it goes
    assert perp_size(ws) < 0


def test_a_lost_answer_to_the_hedge_order_is_found_by_its_label_not_sent_twice(
    tmp_path: Path,
) -> None:
    """The venue carries the order out but its answer never arrives: the step looks the
    order up by label, adopts it and books its fill; the broker holds one order."""
    ws = scripted_workspace(tmp_path, "flat", "hedge:\n  mode: usd\n")
    assert ws.run("health-run", now=at(0)).returncode == 0
    lost = {"deribit.place_order": {"lose_response": True, "times": 1}}
    code, run = ws.json("monitor-run", now=at(1), faults=lost)
    assert (code, run["hedge"]["status"]) == (0, "filled"), run
    assert len(broker_hedges(ws)) == 1
    ((label, side, amount, state, filled),) = hedge_orders(ws)
    assert (side, state, filled) == ("sell", "filled", amount)
    assert broker_hedges(ws) == [(label, "filled", amount)]
    assert perp_size(ws) == -amount


def test_a_hedge_service_that_fails_ends_the_step_not_the_run(tmp_path: Path) -> None:
    """The perpetual's ticker down: the monitor's own decisions stand, the step reports
    the error, and a HIGH alert names it; nothing is sent."""
    ws = scripted_workspace(tmp_path, "flat", "hedge:\n  mode: usd\n")
    assert ws.run("health-run", now=at(0)).returncode == 0
    down = {"deribit.position": {"error": 503}}
    code, run = ws.json("monitor-run", now=at(1), faults=down)
    assert code == 0, run
    assert run["hedge"]["status"] == "error"
    assert "hedge step failed" in ws.query("SELECT message FROM alerts")[-1][0]
    assert broker_hedges(ws) == [] and hedge_orders(ws) == []


def test_a_short_that_pays_too_much_funding_is_cut_with_an_alert(tmp_path: Path) -> None:
    """An 8-hour rate of -0.1 % costs a short about 110 % a year, above the 25 % allowed:
    the target is cut to half, the order says so, and a MEDIUM alert names the cost."""
    ws = scripted_workspace(tmp_path, "flat", "hedge:\n  mode: usd\n")
    assert ws.run("health-run", now=at(0)).returncode == 0
    full = ws.json("monitor-run", "--dry-run", now=at(1))[1]["hedge"]
    costly = {"deribit.ticker": {"override": {"funding_8h": -0.001}}}
    code, run = ws.json("monitor-run", now=at(1), faults=costly)
    hedge = run["hedge"]
    assert (code, hedge["status"], hedge["reasons"]) == (0, "filled", ["funding_reduced"])
    assert Decimal(hedge["funding_pct_per_year"]) == Decimal("109.50")
    assert Decimal(hedge["target_usd"]) == (Decimal(full["target_usd"]) / 2).quantize(1)
    assert -perp_size(ws) == Decimal(hedge["target_usd"])
    severity, message = ws.query("SELECT severity, message FROM alerts")[-1]
    assert severity == "MEDIUM" and "109.5 % a year in funding" in message


def test_a_step_that_fails_after_its_send_leaves_the_next_step_of_the_run_to_settle_it(
    tmp_path: Path,
) -> None:
    """One run, many steps (a backtest's): a step ends settled, so the run asks the broker
    for unsettled orders once; a step that fails after its send leaves its order to the
    next step of the same run, which adopts it rather than sending another."""
    import asyncio
    import json
    from datetime import timedelta

    from bite.clock import VirtualClock, parse_instant
    from bite.jobs.boot import boot
    from bite.jobs.hedge import hedge_step
    from bite.paper.faults import FAULTS_ENV

    ws = scripted_workspace(tmp_path, "flat", "hedge:\n  mode: usd\n")
    assert ws.run("health-run", now=at(0)).returncode == 0
    faults = {"deribit.trades_by_order": {"error": 503, "times": 3}}  # more than the retries
    clock = VirtualClock(parse_instant(at(1)))

    async def steps() -> list[dict[str, Any] | None]:
        run = await boot(
            "monitor-run",
            "monitor",
            ws.config,
            ws.data,
            clock,
            dry_run=False,
            environ={FAULTS_ENV: json.dumps(faults)},
        )
        try:
            seen = [await hedge_step(run, "monitor")]
            assert run.hedge_settled is False
            clock.advance_to(clock.now() + timedelta(hours=1))
            seen.append(await hedge_step(run, "monitor"))
            assert run.hedge_settled is True
            return seen
        finally:
            await run.clients.aclose()
            run.state.close()

    failed, after = asyncio.run(steps())
    assert failed is not None and failed["status"] == "error", failed
    assert after is not None and after["status"] == "inside_band", after
    ((label, side, amount, state, filled),) = hedge_orders(ws)
    assert (side, state, filled) == ("sell", "filled", amount)
    assert broker_hedges(ws) == [(label, "filled", amount)]  # one order, adopted
    assert perp_size(ws) == -amount
