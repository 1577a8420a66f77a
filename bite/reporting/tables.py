"""Rich tables for the terminal (presentation only)."""

from __future__ import annotations

from decimal import Decimal
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


def print_entry(report: dict[str, Any], console: Console | None = None) -> None:
    """The entry decision for a person: status, why, and the proposal when there is one."""
    out = console or Console()
    mode = "DRY RUN — nothing sent" if report["dry_run"] else "live"
    approved = report.get("config_approved")
    out.print(
        f"[bold]entry-run[/bold] ({mode}) on {report.get('environment')} at "
        f"{report['started_at']}: [bold]{report['status']}[/bold]"
        + (f" — config approved: {approved}" if approved is not None else "")
    )
    if report.get("reasons"):
        out.print("reasons: " + ", ".join(report["reasons"]))
    if report.get("message"):
        out.print(report["message"])
    numbers = report.get("numbers") or {}
    if numbers:
        table = Table(title="What the rules measured")
        table.add_column("input")
        table.add_column("value", justify="right")
        for key in (
            "spot",
            "dvol",
            "dvol_rise_24h",
            "realized_vol_10d",
            "vol_premium",
            "return_24h_pct",
            "funding_annual_pct",
            "fear_greed",
            "equity_eur",
            "bias",
            "ema_fast",
            "ema_slow",
            "return_7d_pct",
            "risk_fraction",
            "contracts",
            "budget_eur",
            "binding_cap",
            "macro_hold",
        ):
            if key in numbers and numbers[key] is not None:
                value = numbers[key]
                table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
        out.print(table)
    proposal = report.get("proposal")
    if proposal:
        table = Table(title=f"Proposal {proposal['label']}")
        table.add_column("field")
        table.add_column("value")
        short, long = proposal["short"], proposal["long"]
        rows = [
            ("spread", proposal["spread_type"]),
            ("sell", f"{short['instrument_name']} x{short['amount']}"),
            ("buy", f"{long['instrument_name']} x{long['amount']}"),
            ("expiry", f"{proposal['expiry']} ({float(proposal['dte']):.2f} days)"),
            (
                "credit",
                f"{proposal['credit_eth']} ETH each = {float(proposal['credit_usd']):.2f}"
                f" USD = {float(proposal['credit_eur']):.2f} EUR",
            ),
            ("width", f"{proposal['width_usd']} USD"),
            (
                "max loss",
                f"{float(proposal['max_loss_usd']):.2f} USD (sizing loss "
                f"{float(proposal['sizing_loss_usd']):.2f} USD)",
            ),
            ("breakeven", f"{float(proposal['breakeven_usd']):.2f} USD"),
            ("net delta", f"{proposal['greeks']['delta']:+.3f} ETH"),
            ("limit ladder", " -> ".join(proposal["ladder"]) + " ETH"),
        ]
        for row in rows:
            table.add_row(*row)
        out.print(table)
    order = report.get("order")
    if order:
        out.print(
            f"order {order['label']}: {order['state']}, filled {order['filled']}"
            f" at {order['average_price']}; prices tried {', '.join(order['prices'])}"
        )


def print_monitor(report: dict[str, Any], console: Console | None = None) -> None:
    """The monitor's verdict per position."""
    out = console or Console()
    mode = "DRY RUN — nothing sent" if report["dry_run"] else "live"
    out.print(
        f"[bold]monitor-run[/bold] ({mode}) at {report['started_at']}: "
        f"[bold]{report['status']}[/bold]"
    )
    if report.get("message"):
        out.print(report["message"])
    if report["status"] == "not_due":
        out.print(
            f"spot {report.get('spot')}: not due (no scheduled hour, no wake: spot near where "
            "it was and far from the short strikes, no exit pending); --full decides now"
        )
        return
    if report.get("due"):
        out.print(f"decided because: {', '.join(report['due'])}")
    table = Table(title="Positions")
    for column in (
        "position",
        "outcome",
        "rule",
        "debit mid",
        "debit touch",
        "credit",
        "hours left",
        "order",
    ):
        table.add_column(column)
    for p in report.get("positions", []):
        n = p.get("numbers") or {}
        order = p.get("order") or {}
        table.add_row(
            p["position_id"],
            p["status"],
            p.get("action") or "",
            str(n.get("debit_mid", "")),
            str(n.get("debit_touch", "")),
            str(n.get("credit", "")),
            f"{n['hours_left']:.1f}" if isinstance(n.get("hours_left"), float) else "",
            f"{order.get('state', '')} {order.get('filled', '')}".strip(),
        )
    out.print(table)


def print_rows(
    title: str, rows: list[dict[str, Any]], columns: list[str], console: Console | None = None
) -> None:
    """A plain table of dict rows."""
    out = console or Console()
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    out.print(table)


def print_status(data: dict[str, Any], console: Console | None = None) -> None:
    """``bite status``: engine, runs, positions, alerts, Kelly."""
    out = console or Console()
    e = data["engine"]
    switch = e["kill_switch"]
    armed = (
        (
            f"[bold red]ARMED[/bold red] ({switch['kind']}) since {switch['since']}: "
            f"{'; '.join(switch['reasons'])}"
        )
        if switch["armed"]
        else "disarmed"
    )
    table = Table(title="Engine")
    table.add_column("item")
    table.add_column("value")
    table.add_row("environment", str(e["environment"]))
    table.add_row("kill switch", armed)
    table.add_row(
        "approved config", f"{(e['approved_config_hash'] or 'none')[:16]} {e['approved_at'] or ''}"
    )
    table.add_row(
        "heartbeat age",
        f"{e['heartbeat_age_minutes']} min" if e["heartbeat_age_minutes"] is not None else "never",
    )
    table.add_row("health strikes", str(e["health_strikes"]))
    hedge = data.get("hedge")
    if hedge:
        table.add_row(
            "hedge",
            f"short {hedge['short_usd']} USD, target {hedge['target_usd']}, drift "
            f"{hedge['drift_usd']} (band {hedge['band_usd']}); funding received "
            f"{hedge['funding_received_eth']} ETH, fees {hedge['fees_eth']} ETH; "
            f"{hedge['status']} at {hedge['at']}",
        )
    out.print(table)
    print_rows(
        "Last runs",
        data["runs"],
        ["job", "started_at", "status", "exit_code", "dry_run", "reasons"],
        out,
    )
    print_rows(
        "Open positions",
        data["positions"],
        [
            "id",
            "status",
            "spread_type",
            "short",
            "long",
            "contracts",
            "credit_eth",
            "max_loss_usd",
            "breakeven_usd",
            "dte",
            "delta",
            "vega",
            "theta",
            "exit_pending",
        ],
        out,
    )
    evaluated = [
        {"id": p["id"], **p["last_evaluation"]}
        for p in data["positions"]
        if p.get("last_evaluation")
    ]
    if evaluated:
        print_rows(
            "Last evaluation by monitor-run (no broker asked)",
            evaluated,
            [
                "id",
                "age_minutes",
                "action",
                "spot",
                "debit_mid",
                "credit",
                "short_delta",
                "hours_left",
                "net_delta",
            ],
            out,
        )
    if "live" in data:
        live = data["live"]
        hedged = Decimal(live.get("hedge_delta_eth") or 0) != 0
        out.print(
            f"collateral: {live['equity_eth']} ETH at {live['index']} USD — its delta "
            f"is {live['collateral_delta_eth']} ETH"
            + (
                f", the hedge's {live['hedge_delta_eth']} ETH: {live['net_delta_eth']} ETH net"
                if hedged
                else ", unhedged"
            )
        )
    print_rows("Recent alerts", data["alerts"], ["ts", "severity", "source", "message"], out)
    k = data.get("kelly")
    if k:
        out.print(
            f"Kelly: n={k['n']} risk fraction {k['risk_fraction']:.4f}, drawdown "
            f"{k['drawdown_pct']:.2f}%"
            + (" — negative edge" if k["negative_edge"] else "")
            + (" — HALTED" if k["halted"] else "")
        )


def print_backtest(
    summary: dict[str, Any], start: Any, end: Any, files: list[Any], console: Console | None = None
) -> None:
    """The backtest report."""
    out = console or Console()
    table = Table(title=f"Backtest {start} to {end}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in (
        "trades",
        "wins",
        "win_rate",
        "pnl_eur_total",
        "pnl_eur_per_trade",
        "mean_r",
        "best_r",
        "worst_r",
        "max_drawdown_pct_of_equity",
        "entry_slots",
        "monitor_slots",
        "risk_fraction_first_last",
        "halt_began",
    ):
        table.add_row(key, str(summary.get(key)))
    out.print(table)
    print_rows(
        "Entries skipped, by reason",
        [{"reason": k, "count": v} for k, v in summary["skipped_entries"].items()],
        ["reason", "count"],
        out,
    )
    print_rows(
        "Exits, by rule",
        [{"rule": k, "count": v} for k, v in summary["exits_by_rule"].items()],
        ["rule", "count"],
        out,
    )
    out.print("Approximations: " + "; ".join(summary["approximations"]) + ".")
    out.print(
        "The drawdown is of the account's EUR value, which moves with ETH (the "
        "collateral is not hedged)."
    )
    out.print("Files: " + ", ".join(str(f) for f in files))


def print_chain(data: dict[str, Any], console: Console | None = None) -> None:
    """``bite paper chain --at``: the model's quotes."""
    out = console or Console()
    out.print(f"Model chain at {data['time']}: spot {data['spot']}, DVOL {data['dvol']}")
    print_rows(
        "Quotes",
        data["quotes"],
        ["instrument", "strike", "type", "mark_iv", "bid", "ask", "delta"],
        out,
    )


def print_chain_comparison(data: dict[str, Any], console: Console | None = None) -> None:
    """``bite paper chain --compare``: the model beside a recorded chain."""
    out = console or Console()
    out.print(
        f"{data['file']} at {data['time']}; the model there: spot {data['spot']}, "
        f"DVOL {data['dvol']}"
    )
    print_rows(
        "By expiry (ATM IV; the 0.20-delta strikes)",
        data["expiries"],
        [
            "expiry",
            "days",
            "atm_iv",
            "model_atm_iv",
            "delta20_put",
            "model_delta20_put",
            "delta20_call",
            "model_delta20_call",
        ],
        out,
    )
    print_rows(
        "By moneyness ln(K/F), out-of-the-money options",
        data["moneyness"],
        [
            "moneyness",
            "options",
            "iv_error_mean",
            "iv_error_abs_mean",
            "spread_median",
            "model_spread_median",
        ],
        out,
    )
