"""bite backtest, bite ping and the paper exchange commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from bite.commands._shared import (
    ConfigOption,
    DataDirOption,
    JsonOption,
    LogLevelOption,
    _clock,
    _emit,
    _exit_codes,
    _setup,
    _view,
    app,
    environ,
    paper_app,
)
from bite.errors import ExitCode, UsageError

# -- backtest -----------------------------------------------------------------------------


def _day(value: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {value!r}") from None


def _hedge(value: str | None) -> Any:
    if value is None or value in ("none", "usd"):
        return value
    raise typer.BadParameter(f"--hedge: none or usd, not {value!r}")


def _fills(value: str) -> Any:
    if value not in ("touch", "improve"):
        raise typer.BadParameter(f"--fills: touch or improve, not {value!r}")
    return value


@app.command("backtest")
def backtest_command(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
    mode: Annotated[
        str | None,
        typer.Argument(
            help="sweep: a walk-forward study of a grid of parameter sets (--grid, --split, "
            "--workers or --scheduler); without it, one backtest.",
            show_default=False,
        ),
    ] = None,
    prices: Annotated[
        Path | None,
        typer.Option(
            help="Daily ETH prices CSV (date,...,close); default: the shipped real history."
        ),
    ] = None,
    dvol: Annotated[Path | None, typer.Option(help="Daily ETH DVOL CSV; default shipped.")] = None,
    eurusd: Annotated[Path | None, typer.Option(help="Daily EUR/USD CSV; default shipped.")] = None,
    funding: Annotated[
        Path | None,
        typer.Option(help="Daily hourly funding rate CSV (date,value); default 0.0000125."),
    ] = None,
    fear_greed: Annotated[
        Path | None,
        typer.Option("--fear-greed", help="Daily Fear & Greed CSV (date,value); default 50."),
    ] = None,
    calendar: Annotated[
        Path | None, typer.Option(help="Macro events CSV (time,name,impact); default none.")
    ] = None,
    starting_equity_eth: Annotated[str, typer.Option(help="Paper equity at the start.")] = "30",
    fills: Annotated[
        str,
        typer.Option(
            "--fills",
            help="touch: a combo fills only when its limit reaches the touch; improve: also "
            "halfway from the touch to the mid (paper.price_improvement).",
        ),
    ] = "touch",
    halts: Annotated[
        bool,
        typer.Option(
            "--halts/--no-halts",
            help="Keep the halts that need a person (negative_edge, drawdown_halt).",
        ),
    ] = True,
    hedge: Annotated[
        str | None,
        typer.Option(
            "--hedge",
            help="none or usd: the collateral hedge on the perpetual (default: the config's "
            "hedge.mode). Its funding is the --funding series, none without a file.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Where summary.json, trades.csv, equity.csv, decisions.csv, equity.svg and "
            "report.html go.",
        ),
    ] = Path("backtest-out"),
    as_json: JsonOption = False,
    log_level: LogLevelOption = "ERROR",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the backtest's log goes (its log/ folder; env CERBERO_BITE_DATA_DIR). "
            "The backtest never reads or writes the bot's state: its account lives in --out.",
            show_default=False,
        ),
    ] = None,
    grid: Annotated[
        Path | None,
        typer.Option("--grid", help="sweep: dotted keys to lists of values, and variants:."),
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="sweep: the first out-of-sample day.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="sweep: worker processes (default: every core)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="sweep: run on the Dask cluster whose scheduler is at this address "
            "(tcp://host:8786; the extra cerbero-bite[sweep]) instead of local workers.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Replay the schedule over real ETH history with the live cycle functions.

    ``bite backtest sweep`` runs a study instead: every parameter set of --grid under each
    of its variants, in-sample (--from to the day before --split) and out-of-sample
    (--split to --to), fills at the touch and no halts; sweep.csv and ranked.csv go in
    --out (docs/backtest.md).
    """
    import asyncio
    from decimal import Decimal, InvalidOperation

    from bite.backtest.replay import BacktestInputs, default_inputs, run_backtest, write_outputs
    from bite.config.loader import load_config
    from bite.context import resolve_config_path, resolve_data_dir
    from bite.paper.market import DataFileError

    with _exit_codes():
        first, last = _day(start), _day(end)
        if mode is not None:
            if mode != "sweep":
                raise UsageError(f"bite backtest {mode}: the only mode is 'sweep'")
            if grid is None or split is None:
                raise UsageError("bite backtest sweep needs --grid and --split")
            _setup(None, log_level)
            _sweep(grid, first, _day(split), last, out, workers, scheduler, config, as_json)
            return
        shipped = default_inputs(first, last)
        try:
            equity = Decimal(starting_equity_eth)
        except InvalidOperation:
            equity = Decimal("NaN")
        if not equity.is_finite() or equity <= 0:
            raise UsageError(
                f"--starting-equity-eth: not a positive number: {starting_equity_eth!r}"
            ) from None
        inputs = BacktestInputs(
            first,
            last,
            prices or shipped.prices,
            dvol or shipped.dvol,
            eurusd or shipped.eurusd,
            funding,
            fear_greed,
            calendar,
            equity,
            fills=_fills(fills),
            halts=halts,
            hedge=_hedge(hedge),
        )
        cfg = load_config(resolve_config_path(config, environ())).config
        _setup(resolve_data_dir(data_dir, environ()) if data_dir is not None else None, log_level)
        with _progress("backtest", None, as_json) as progress:
            try:
                result = asyncio.run(run_backtest(inputs, cfg, progress))
            except DataFileError as exc:
                raise UsageError(str(exc)) from None
        files = write_outputs(result, out, inputs)
        summary = result.summary()
        if as_json:
            _emit(
                {
                    "job": "backtest",
                    "from": str(first),
                    "to": str(last),
                    "summary": summary,
                    "files": [str(f) for f in files],
                }
            )
            return
        from bite.reporting.tables import print_backtest

        print_backtest(summary, first, last, files)


@contextmanager
def _progress(
    label: str, total: int | None, as_json: bool
) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal (none with ``--json`` or without a terminal): the
    callback a long run reports to, or None."""
    if as_json or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task(label, total=total)
    bar.start()

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    try:
        yield progress
    finally:
        bar.stop()


def _sweep(
    grid_path: Path,
    first: date,
    split: date,
    last: date,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    config: Path | None,
    as_json: bool,
) -> None:
    import os

    from bite.backtest import sweep
    from bite.backtest.replay import csv_text
    from bite.config.loader import load_config
    from bite.context import resolve_config_path
    from bite.paper.market import DataFileError

    if workers is not None and scheduler is not None:
        raise UsageError("--workers and --scheduler: the cluster chooses its workers; give one")
    cfg = load_config(resolve_config_path(config, environ())).config
    grid = sweep.read_grid(grid_path)
    try:
        runs = sweep.plan(grid, cfg, first, split, last)
    except DataFileError as exc:
        raise UsageError(str(exc)) from None
    count = workers or os.cpu_count() or 1
    on = f"the cluster at {scheduler}" if scheduler else f"{count} workers"
    with _progress(f"sweep: {len(runs)} runs on {on}", len(runs), as_json) as progress:
        try:
            results = sweep.execute(runs, count, progress, scheduler)
        except DataFileError as exc:
            raise UsageError(str(exc)) from None
    table = sweep.rows(grid, results)
    ranking = sweep.ranked(grid, table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.csv").write_text(csv_text(table), encoding="utf-8", newline="\n")
    (out / "ranked.csv").write_text(csv_text(ranking), encoding="utf-8", newline="\n")
    data = {
        "job": "backtest sweep",
        "from": str(first),
        "split": str(split),
        "to": str(last),
        "sets": len(grid.sets()),
        "variants": list(grid.variants),
        "runs": len(runs),
        "ran_on": on,
        "fills": "touch",
        "halts": "off (negative_edge, drawdown_halt)",
        "ranked": ranking,
        "files": [str(out / "sweep.csv"), str(out / "ranked.csv")],
    }
    if as_json:
        _emit(data)
        return
    from bite.reporting.tables import print_rows

    print_rows(
        f"Sweep {first} | {split} | {last}: {len(runs)} runs, fills at the touch, no halts; "
        "ranked by the in-sample interval's lower end under the worst variant",
        ranking[:15],
        [
            "set",
            *grid.parameters,
            "worst_variant",
            "in_trades",
            "in_expectancy_r",
            "in_ci95_low",
            "out_trades",
            "out_expectancy_r",
            "out_ci95_low",
        ],
    )


# -- services and the paper exchange ------------------------------------------------------


@app.command("ping")
def ping(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """One line per service: transport, reachable, latency, environment.

    Exit 75 if any service is down, 2 if one refuses the credentials.
    """
    import asyncio

    from bite.config.loader import load_config
    from bite.context import resolve_config_path, resolve_data_dir
    from bite.jobs.ping import ping_services

    with _exit_codes():
        clock = _clock(config)
        path = resolve_config_path(config, environ())
        loaded = load_config(path)
        directory = resolve_data_dir(data_dir, environ())
        _setup(None, log_level, clock.now())
        rows = asyncio.run(ping_services(loaded.config, clock, directory, path.parent, environ()))
        if as_json:
            _emit({"services": [r.__dict__ for r in rows], "ok": all(r.reachable for r in rows)})
        else:
            for r in rows:
                state = f"up {r.latency_ms:.0f} ms" if r.reachable else f"DOWN ({r.error})"
                env = f" environment {r.environment}" if r.environment else ""
                typer.echo(f"{r.service:<12} {r.transport:<6} {state}{env}")
        if any(r.exit_code == ExitCode.USAGE for r in rows):
            raise typer.Exit(int(ExitCode.USAGE))  # credentials refused
        if not all(r.reachable for r in rows):
            raise typer.Exit(int(ExitCode.TEMPFAIL))


@paper_app.command("serve")
def paper_serve(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free).")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    faults: Annotated[str | None, typer.Option("--faults", help="Fault rules (JSON).")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    log_level: LogLevelOption = "INFO",
    as_json: JsonOption = False,
) -> None:
    """Serve the four paper services over HTTP at /{service}/tools/{tool} and /{service}/health."""
    from bite.clock import WallClock
    from bite.config.loader import load_config
    from bite.config.schema import SERVICE_NAMES
    from bite.context import resolve_config_path, resolve_data_dir
    from bite.paper.faults import parse_faults
    from bite.paper.series import build_market
    from bite.paper.server import make_server
    from bite.paper.service import PaperService

    with _exit_codes():
        path = resolve_config_path(config, environ())
        cfg = load_config(path).config
        directory = resolve_data_dir(data_dir, environ())
        _setup(directory, log_level)
        service = PaperService(
            cfg, directory, build_market(cfg, path.parent), parse_faults(faults, cfg.paper.faults)
        )
        server = make_server(service, WallClock(), host, port, cfg.paper.serve_token)
        bound = server.server_address[1]
        base = f"http://{host}:{bound}"
        typer.echo(f"paper services on {base}/{{deribit,hyperliquid,macro,sentiment}}", err=True)
        # stdout is one JSON line either way (a supervisor reads the port from it);
        # --json adds the address of each service
        announce: dict[str, Any] = {"port": bound}
        if as_json:
            announce |= {"host": host, "services": {n: f"{base}/{n}" for n in SERVICE_NAMES}}
        typer.echo(json.dumps(announce), err=False)
        sys.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            service.close()


def _paper_exchange(config: Path | None, data_dir: Path | None) -> Any:
    from bite.config.loader import load_config
    from bite.context import resolve_config_path, resolve_data_dir
    from bite.paper.exchange import PaperExchange
    from bite.paper.series import build_market

    path = resolve_config_path(config, environ())
    cfg = load_config(path).config
    directory = resolve_data_dir(data_dir, environ())
    return PaperExchange(
        directory / "paper.sqlite",
        build_market(cfg, path.parent),
        cfg.paper,
        cfg.fees,
        cfg.execution.combo_tick,
    )


@paper_app.command("chain")
def paper_chain(
    at: Annotated[
        str | None,
        typer.Option("--at", help="An instant (ISO-8601, UTC) inside the shipped history."),
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="A recorded chain (CSV or .csv.gz, Deribit's book summary columns): the model "
            "at its time against it.",
        ),
    ] = None,
    dte_max: Annotated[
        float | None, typer.Option("--dte-max", help="With --at: expiries up to this many days.")
    ] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """The historical market model's option chain at a time, or beside a recorded chain.

    The model is the backtest's: the shipped real ETH and DVOL bars, the day's path and
    the chain model of the config (``paper.chain``, ``paper.seed``). A --compare name that
    is not a file is looked for among the chains bite recorded (DATA_DIR/chains).
    """
    from bite.config.loader import load_config
    from bite.context import resolve_config_path, resolve_data_dir
    from bite.paper.market import DataFileError, HistoricalMarket, default_data_file
    from bite.paper.series import read_bars

    with _exit_codes():
        _view(log_level)
        if (at is None) == (compare is None):
            raise UsageError("give one of --at TIME or --compare FILE")
        cfg = load_config(resolve_config_path(config, environ())).config
        if compare is not None and not compare.exists():
            recorded = resolve_data_dir(data_dir, environ()) / "chains" / compare
            compare = recorded if recorded.exists() else compare
        try:
            market = HistoricalMarket(
                read_bars(default_data_file("eth_usd_daily.csv")),
                read_bars(default_data_file("eth_dvol.csv")),
                cfg.paper.seed,
            )
            data = (
                _model_chain(market, cfg.paper.chain, at, dte_max)
                if at is not None
                else _compared(market, cfg.paper.chain, compare)
            )
        except DataFileError as exc:
            raise UsageError(str(exc)) from None
        if as_json:
            _emit(data)
            return
        from bite.reporting.tables import print_chain, print_chain_comparison

        if at is not None:
            print_chain(data)
        else:
            print_chain_comparison(data)


def _model_chain(market: Any, model: Any, at: str, dte_max: float | None) -> dict[str, Any]:
    from bite.clock import parse_instant
    from bite.paper.chain import Chain

    when = parse_instant(at)
    state = market.state(when)
    chain = Chain(state, market.seed, market.state, None, model)
    rows = []
    for q in chain.all_quotes():
        days = (q.listing.expiry - when).total_seconds() / 86400
        if dte_max is not None and days > dte_max:
            continue
        rows.append(
            {
                "instrument": q.listing.name,
                "expiry": q.listing.expiry.date().isoformat(),
                "strike": q.listing.strike,
                "type": q.listing.option_type,
                "mark_iv": q.mark_iv,
                "bid": str(q.bid) if q.bid is not None else None,
                "ask": str(q.ask) if q.ask is not None else None,
                "mark": str(q.mark),
                "delta": round(q.greeks.delta, 4),
            }
        )
    return {
        "time": when.isoformat(),
        "spot": round(state.index, 2),
        "dvol": round(state.dvol, 2),
        "quotes": rows,
    }


def _compared(market: Any, model: Any, path: Path | None) -> dict[str, Any]:
    from bite.paper.calibration import compare, read_recorded

    assert path is not None  # noqa: S101 - the caller checked
    result = compare(read_recorded(path), market, model)
    result["file"] = str(path)
    return result


@paper_app.command("status")
def paper_status(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """The paper account: equity, positions, orders with labels and states."""
    with _exit_codes():
        _view(log_level)
        clock = _clock(config)
        exchange = _paper_exchange(config, data_dir)
        try:
            status = exchange.status(clock.now())
        finally:
            exchange.close()
        if as_json:
            _emit(status)
            return
        from bite.reporting.tables import paper_status_tables

        paper_status_tables(status)


@paper_app.command("reset")
def paper_reset(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Reset the paper account to its starting equity (orders, trades, positions erased)."""
    from bite.context import resolve_data_dir

    with _exit_codes():
        _setup(resolve_data_dir(data_dir, environ()), log_level)
        if not yes and sys.stdin.isatty() and not typer.confirm("Reset the paper account?"):
            raise typer.Exit(0)
        exchange = _paper_exchange(config, data_dir)
        try:
            generation = exchange.reset()
        finally:
            exchange.close()
        if as_json:
            _emit({"reset": True, "generation": generation})
        else:
            typer.echo(f"paper account reset (generation {generation})")
