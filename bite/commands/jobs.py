"""The one-shot jobs: entry-run, monitor-run, recover, health-run."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bite.commands._shared import (
    ConfigOption,
    DataDirOption,
    DryRunOption,
    JsonOption,
    LogLevelOption,
    _clock,
    _exit_codes,
    _finish,
    _lock_option,
    _run_job,
    _setup,
    app,
    environ,
)


@app.command("entry-run")
def entry_run(
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    lock_timeout: Annotated[float, _lock_option()] = 300,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """One entry cycle: validate, pick strikes, size, and work the order through its ladder."""
    from bite.jobs.entry import run_entry_cycle
    from bite.jobs.runner import cycle_of
    from bite.reporting.tables import print_entry

    _run_job(
        "entry-run",
        "entry",
        cycle_of(run_entry_cycle),
        dry_run=dry_run,
        config=config,
        data_dir=data_dir,
        lock_timeout=lock_timeout,
        as_json=as_json,
        log_level=log_level,
        printer=print_entry,
        with_recovery=True,
    )


@app.command("monitor-run")
def monitor_run(
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    lock_timeout: Annotated[float, _lock_option()] = 300,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Decide in full now, even between the scheduled hours when nothing wakes it.",
        ),
    ] = False,
) -> None:
    """An exit decision per open position when due; closes what a rule says to close.

    Run hourly: it decides in full at schedule.monitor_decision_hours_utc and, between
    them, when spot moved, nears a short strike, an exit pends or a position expired;
    otherwise it reads spot and reports not_due.
    """
    from functools import partial

    from bite.jobs.monitor import run_monitor_cycle
    from bite.jobs.runner import cycle_of
    from bite.reporting.tables import print_monitor

    _run_job(
        "monitor-run",
        "monitor",
        cycle_of(partial(run_monitor_cycle, full=full)),
        dry_run=dry_run,
        config=config,
        data_dir=data_dir,
        lock_timeout=lock_timeout,
        as_json=as_json,
        log_level=log_level,
        printer=print_monitor,
        with_recovery=True,
    )


@app.command("recover")
def recover_command(
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    lock_timeout: Annotated[float, _lock_option()] = 300,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Reconcile SQLite with the broker: cancel our working orders, settle every position."""
    from bite.jobs.runner import recovery_step

    async def cycle(run: Any) -> tuple[str, list[str], dict[str, Any]]:
        details = await recovery_step(run)
        return ("recovered" if details else "nothing_to_do"), [], {"recovery": details}

    _run_job(
        "recover",
        "recover",
        cycle,
        dry_run=dry_run,
        config=config,
        data_dir=data_dir,
        lock_timeout=lock_timeout,
        as_json=as_json,
        log_level=log_level,
        printer=lambda data: typer.echo(json.dumps(data, indent=2, default=str)),
        with_recovery=False,
    )


@app.command("health-run")
def health_run(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    lock_timeout: Annotated[float, _lock_option()] = 30,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Check services, SQLite, the audit anchor, missed jobs, stale orders, pin risk; heartbeat."""
    import asyncio

    from bite.context import resolve_config_path, resolve_data_dir
    from bite.jobs.health import run_health

    with _exit_codes():
        clock = _clock(config, data_dir)
        directory = resolve_data_dir(data_dir, environ())
        _setup(directory, log_level, clock.now())
        result = asyncio.run(
            run_health(
                resolve_config_path(config, environ()),
                directory,
                clock,
                lock_timeout,
                environ(),
            )
        )
        _finish(
            result,
            as_json,
            lambda data: typer.echo(
                f"health: {data['status']} (strikes {data['strikes']})"
                + (f" — {', '.join(data['reasons'])}" if data["reasons"] else "")
            ),
        )
