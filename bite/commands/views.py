"""Read-only views: bite status, positions, orders."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bite.commands._shared import (
    ConfigOption,
    DataDirOption,
    JsonOption,
    LogLevelOption,
    _clock,
    _emit,
    _exit_codes,
    _state,
    _view,
    app,
    config_state,
    environ,
)
from bite.errors import BiteError, UsageError

if TYPE_CHECKING:
    from bite.clock import Clock


# -- status -------------------------------------------------------------------------------


@app.command("status")
def status_command(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live", help="Also ask the broker: equity, the collateral's delta, cost to close."
        ),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Only the verdict, for a container's health check or a watchdog: exit 0 "
            "when the heartbeat is fresh and the kill switch is not armed for integrity, "
            "4 when it is, 5 when the heartbeat is missing or older than --max-age.",
        ),
    ] = False,
    max_age: Annotated[
        float,
        typer.Option("--max-age", min=1, help="--check: the heartbeat's greatest age, in minutes."),
    ] = 20.0,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Engine, last runs, open positions, recent alerts, the Kelly estimate."""
    from bite.config.loader import load_config
    from bite.context import resolve_config_path
    from bite.jobs import status as st

    with _exit_codes():
        _view(log_level)
        clock = _clock(config, data_dir)
        now = clock.now()
        try:
            environment: str | None = load_config(
                resolve_config_path(config, environ())
            ).config.execution.environment
        except BiteError:
            environment = None
        with _state(data_dir) as state:
            data: dict[str, Any] = {
                "engine": st.engine(state, now, environment),
                "runs": st.last_runs(state),
                "positions": st.positions(state, now, include_closed=False),
                "alerts": st.recent_alerts(state),
                "kelly": st.kelly(state),
                "config": config_state(config, state),
                "hedge": st.hedge(state),
            }
        if check:
            if not math.isfinite(max_age):
                raise UsageError(f"--max-age: not a number of minutes: {max_age}")
            code, line = st.check(data["engine"], max_age)
            if as_json:
                _emit({"check": line, "exit_code": code, "engine": data["engine"]})
            else:
                typer.echo(f"bite status --check: {line}")
            raise typer.Exit(code)
        if live:
            data["live"] = _live_status(config, data_dir, clock, data["positions"])
        if as_json:
            _emit(data)
            return
        from bite.reporting.tables import print_status

        print_status(data)


def _live_status(
    config: Path | None, data_dir: Path | None, clock: Clock, positions: list[dict[str, Any]]
) -> dict[str, Any]:
    """Ask the broker: equity, the collateral's delta and the hedge's, each position's cost
    to close and P&L."""
    import asyncio
    from decimal import Decimal

    from bite.config.loader import load_config
    from bite.context import open_clients, resolve_config_path, resolve_data_dir
    from bite.core.exit_decision import close_debits

    path = resolve_config_path(config, environ())
    cfg = load_config(path).config

    async def ask() -> dict[str, Any]:
        clients = open_clients(
            cfg,
            clock,
            resolve_data_dir(data_dir, environ()),
            config_dir=path.parent,
            environ=environ(),
        )
        try:
            index, _ = await clients.deribit.index_price()
            summary = await clients.deribit.account_summary()
            rate = (await clients.macro.eur_usd()).rate
            rows = []
            for p in positions:
                if p["status"] not in ("open", "closing") or not p["credit_eth"]:
                    continue
                short = await clients.deribit.ticker(p["short"])
                long = await clients.deribit.ticker(p["long"])
                mid, touch, degraded = close_debits(short, long)
                pnl = p["contracts"] * (Decimal(p["credit_eth"]) - mid)
                rows.append(
                    {
                        "id": p["id"],
                        "debit_mid": str(mid),
                        "debit_touch": str(touch),
                        "degraded_quote": degraded,
                        "unrealized_pnl_eth": str(pnl.quantize(Decimal("0.000001"))),
                        "unrealized_pnl_eur": str((pnl * index / rate).quantize(Decimal("0.01"))),
                    }
                )
            hedge_delta = Decimal(0)
            if cfg.hedge.mode != "none":  # an inverse short of N USD: -N / spot ETH of delta
                held = await clients.deribit.perp_position(cfg.hedge.instrument)
                hedge_delta = (held.size_usd / index).quantize(Decimal("0.000001"))
            return {
                "index": str(index),
                "equity_eth": str(summary.equity),
                "equity_eur": str((summary.equity * index / rate).quantize(Decimal("0.01"))),
                "collateral_delta_eth": str(summary.equity),
                "hedge_delta_eth": str(hedge_delta),
                "net_delta_eth": str(summary.equity + hedge_delta),
                "initial_margin_eth": str(summary.initial_margin),
                "positions": rows,
            }
        finally:
            await clients.aclose()

    return asyncio.run(ask())


@app.command("positions")
def positions_command(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    show_all: Annotated[bool, typer.Option("--all", help="Closed ones too.")] = False,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Positions (live ones, or all with --all)."""
    from bite.jobs import status as st

    with _exit_codes():
        _view(log_level)
        now = _clock(config, data_dir).now()
        with _state(data_dir) as state:
            rows = st.positions(state, now, include_closed=show_all)
            configured = config_state(config, state)
        if as_json:
            _emit({"positions": rows, "config": configured})
            return
        from bite.reporting.tables import print_rows

        print_rows(
            "Positions",
            rows,
            [
                "id",
                "status",
                "spread_type",
                "short",
                "long",
                "contracts",
                "credit_eth",
                "dte",
                "realized_pnl_eur",
                "r",
                "close_reason",
            ],
        )


@app.command("orders")
def orders_command(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    proposal: Annotated[str | None, typer.Option("--proposal", help="One proposal id.")] = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Every order the bot sent, with its state and fills."""
    from bite.jobs import status as st

    with _exit_codes():
        _view(log_level)
        with _state(data_dir) as state:
            rows = st.orders(state, proposal)
            configured = config_state(config, state)
        if as_json:
            _emit({"orders": rows, "config": configured})
            return
        from bite.reporting.tables import print_rows

        print_rows(
            "Orders",
            rows,
            [
                "label",
                "kind",
                "side",
                "amount",
                "price",
                "state",
                "filled",
                "average_price",
                "reject_reason",
            ],
        )
