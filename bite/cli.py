"""The ``bite`` command line: parse, build the context, call the module, map the exit code.

Heavy modules are imported inside the commands that need them, so ``bite
--version`` and ``bite --help`` start fast. Options are written after the
command's name: ``bite kill-switch status --data-dir X --json``.

Exit codes: 0 done (any decision) · 1 internal error · 2 usage or configuration
· 3 job lock not acquired · 4 integrity check failed · 75 broker unavailable.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bite import __version__
from bite.errors import BiteError, ExitCode, UsageError

if TYPE_CHECKING:
    from bite.clock import Clock
    from bite.context import StateContext

EXIT_CODES_HELP = (
    "Exit codes: 0 done (any decision), 1 internal error, 2 usage or configuration error, "
    "3 job lock not acquired, 4 integrity check failed, 75 broker unavailable (retry later)."
)

app = typer.Typer(
    name="bite",
    help="Cerbero Bite: one ETH option credit spread a week, run as one-shot jobs.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Show, validate, hash, diff and approve the configuration.", no_args_is_help=True
)
audit_app = typer.Typer(help="Verify and read the hash-chained audit log.", no_args_is_help=True)
kill_app = typer.Typer(
    help="Read, arm or disarm the kill switch (no job lock needed).", no_args_is_help=True
)
backup_app = typer.Typer(help="Restore a backup of the state database.", no_args_is_help=True)
paper_app = typer.Typer(
    help="The embedded paper exchange: serve it, show it, reset it.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(audit_app, name="audit")
app.add_typer(kill_app, name="kill-switch")
app.add_typer(backup_app, name="backup")
app.add_typer(paper_app, name="paper")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="strategy.yaml to use (env CERBERO_BITE_CONFIG; "
        "strategy.local.yaml beside it is merged over it).",
        show_default=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (env CERBERO_BITE_DATA_DIR; default ./data).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]
LogLevelOption = Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING...")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bite {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Cerbero Bite."""


def _emit(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@contextmanager
def _exit_codes() -> Iterator[None]:
    """Turn bite errors into their exit codes and bugs into exit 1, with a log line."""
    try:
        yield
    except typer.Exit:
        raise
    except BiteError as exc:
        typer.echo(f"bite: {exc}", err=True)
        raise typer.Exit(int(exc.exit_code)) from None
    except Exception as exc:
        import logging

        logging.getLogger("bite").exception("internal error: %s", type(exc).__name__)
        typer.echo(f"bite: internal error ({type(exc).__name__}); see the log", err=True)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def _setup(data_dir: Path | None, level: str, clock_now: datetime | None = None) -> None:
    from bite.clock import WallClock
    from bite.config.secrets import known_secret_values
    from bite.log import setup_logging

    now = clock_now or WallClock().now()
    setup_logging(data_dir, level, known_secret_values(), now)


def _clock(config: Path | None, data_dir: Path | None = None) -> Clock:
    """The run's clock; ``CERBERO_BITE_NOW`` only in the paper environment.

    The environment is the config file's, or, when the file does not validate, the
    last approved config's (the one monitor-run will trade with).
    """
    from bite.clock import NOW_ENV, WallClock, clock_from_env
    from bite.config.loader import config_from_dump, load_config
    from bite.context import open_state, resolve_config_path, resolve_data_dir

    if NOW_ENV not in os.environ:
        return WallClock()
    environment: str = ""
    try:
        environment = load_config(resolve_config_path(config)).config.execution.environment
    except BiteError:
        state_file = resolve_data_dir(data_dir) / "state.sqlite"
        if state_file.exists():
            state = open_state(resolve_data_dir(data_dir))
            try:
                last = state.repo.last_approved_config()
            finally:
                state.close()
            if last is not None:
                environment = config_from_dump(last.dump).execution.environment
        if not environment:
            raise UsageError(
                f"{NOW_ENV} needs a valid or approved config in the paper environment"
            ) from None
    return clock_from_env(dict(os.environ), environment)


def _scrubbed(text: str) -> str:
    """Operator text with any known secret value removed."""
    from bite.config.secrets import known_secret_values
    from bite.log import redact_text

    return redact_text(text, known_secret_values())


def _state(data_dir: Path | None) -> StateContext:
    from bite.context import open_state, resolve_data_dir

    return open_state(resolve_data_dir(data_dir))


# -- config -------------------------------------------------------------------------------


@config_app.command("validate")
def config_validate(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Validate the config; exit 2 naming the file, field and problem when it is wrong."""
    from bite.config.loader import load_config
    from bite.context import resolve_config_path

    path = resolve_config_path(config)
    try:
        loaded = load_config(path)
    except BiteError as exc:
        if as_json:
            _emit({"valid": False, "error": str(exc)})
        else:
            typer.echo(f"bite: {exc}", err=True)
        raise typer.Exit(int(exc.exit_code)) from None
    if as_json:
        _emit(
            {
                "valid": True,
                "file": str(loaded.path),
                "hash": loaded.hash,
                "local_file": str(loaded.local_path) if loaded.local_path else None,
            }
        )
        return
    local = f" (with {loaded.local_path})" if loaded.local_path else ""
    typer.echo(f"{loaded.path}{local}: valid, hash {loaded.hash}")


@config_app.command("show")
def config_show(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Print the effective config (defaults filled in, secrets hidden)."""
    import yaml

    from bite.config.loader import load_config, redacted
    from bite.context import resolve_config_path

    with _exit_codes():
        loaded = load_config(resolve_config_path(config))
        data = redacted(loaded.config)
        if as_json:
            _emit(data)
            return
        typer.echo(f"# effective config from {loaded.path}, hash {loaded.hash}")
        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@config_app.command("hash")
def config_hash_command(config: ConfigOption = None) -> None:
    """Print the canonical SHA-256 of the effective config."""
    from bite.config.loader import load_config
    from bite.context import resolve_config_path

    with _exit_codes():
        typer.echo(load_config(resolve_config_path(config)).hash)


def _print_changes(changes: list[Any], as_json: bool, header: str) -> None:
    if as_json:
        return
    typer.echo(header)
    for change in changes:
        typer.echo(f"  {change.path}: {change.old!r} -> {change.new!r}")
    if not changes:
        typer.echo("  (no change)")


@config_app.command("diff")
def config_diff(
    config: ConfigOption = None, data_dir: DataDirOption = None, as_json: JsonOption = False
) -> None:
    """Show how the config file differs from the last approved version."""
    from bite.config.loader import load_config
    from bite.context import resolve_config_path
    from bite.safety.config_approval import diff

    with _exit_codes():
        loaded = load_config(resolve_config_path(config))
        state = _state(data_dir)
        try:
            last = state.repo.last_approved_config()
        finally:
            state.close()
        changes = diff(last.dump if last else None, loaded.config)
        if as_json:
            _emit(
                {
                    "hash": loaded.hash,
                    "approved_hash": last.hash if last else None,
                    "changes": [c.__dict__ for c in changes],
                }
            )
            return
        base = f"approved {last.hash[:12]} ({last.approved_at})" if last else "nothing approved"
        _print_changes(changes, False, f"{loaded.path} (hash {loaded.hash[:12]}) against {base}:")


@config_app.command("approve")
def config_approve(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Approve without asking.")] = False,
    new_sample: Annotated[
        bool,
        typer.Option("--new-sample", help="Also start a new Kelly and drawdown sample (audited)."),
    ] = False,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Validate the config, show the diff to the last approved version, and approve it."""
    from bite.config.loader import load_config
    from bite.context import resolve_config_path
    from bite.safety.config_approval import approve, diff

    with _exit_codes():
        clock = _clock(config)
        loaded = load_config(resolve_config_path(config))
        state = _state(data_dir)
        _setup(state.data_dir, log_level, clock.now())
        try:
            last = state.repo.last_approved_config()
            if last is not None and last.hash == loaded.hash and not new_sample:
                if as_json:
                    _emit({"approved": True, "hash": loaded.hash, "changed": False})
                else:
                    typer.echo(f"{loaded.path}: already approved (hash {loaded.hash[:12]})")
                return
            changes = diff(last.dump if last else None, loaded.config)
            _print_changes(changes, as_json, f"Changes to approve ({loaded.path}):")
            if not yes:
                if not sys.stdin.isatty():
                    raise UsageError("not a terminal: pass --yes to approve")
                if not typer.confirm("Approve this configuration?", default=False):
                    typer.echo("not approved")
                    raise typer.Exit(int(ExitCode.OK))
            result = approve(
                state.repo, state.audit, loaded, clock.now(), by="operator", new_sample=new_sample
            )
        finally:
            state.close()
        if as_json:
            _emit(
                {
                    "approved": True,
                    "hash": result.hash,
                    "changed": True,
                    "changes": len(result.changes),
                    "new_sample_id": result.sample_id,
                }
            )
        else:
            sample = f"; new sample {result.sample_id}" if result.sample_id else ""
            typer.echo(f"approved hash {result.hash}{sample}")


# -- audit --------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Walk the whole chain; name the first bad seq; exit 4 when broken or a broken log remains."""
    with _exit_codes():
        state = _state(data_dir)
        try:
            report = state.audit.verify()
        finally:
            state.close()
        if as_json:
            _emit(
                {
                    "healthy": report.healthy,
                    "records": report.records,
                    "chain_ok": report.ok,
                    "first_bad_seq": report.first_bad_seq,
                    "first_bad_line": report.first_bad_line,
                    "problem": report.problem,
                    "last_seq": report.last_seq,
                    "anchor_seq": report.anchor[0] if report.anchor else None,
                    "anchor_ok": report.anchor_ok,
                    "broken_logs": list(report.broken_logs),
                }
            )
        else:
            if report.ok:
                typer.echo(f"chain: {report.records} records, valid, ends at seq {report.last_seq}")
            else:
                typer.echo(
                    f"chain: BROKEN at seq {report.first_bad_seq} (line "
                    f"{report.first_bad_line}): {report.problem}"
                )
            anchor = f"seq {report.anchor[0]}" if report.anchor else "none"
            typer.echo(
                f"anchor: {anchor} — {'matches' if report.anchor_ok else 'DOES NOT MATCH'}"
                " the chain's end"
            )
            for name in report.broken_logs:
                typer.echo(
                    f"set-aside damaged log still present: {name} (examine, then move "
                    "it out of the data dir)"
                )
        if not report.healthy:
            raise typer.Exit(int(ExitCode.INTEGRITY))


@audit_app.command("tail")
def audit_tail(
    data_dir: DataDirOption = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many records.")] = 20,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Print the last records of the audit log."""
    with _exit_codes():
        state = _state(data_dir)
        try:
            records = state.audit.tail(lines)
        finally:
            state.close()
        if as_json:
            _emit({"records": records})
            return
        for rec in records:
            if "broken_line" in rec:
                typer.echo(f"BROKEN LINE: {rec['broken_line'][:200]}")
                continue
            payload = json.dumps(rec.get("payload"), sort_keys=True, default=str)
            typer.echo(
                f"{rec.get('seq'):>6} {rec.get('ts')} {rec.get('event'):<20} {payload[:160]}"
            )


# -- kill switch --------------------------------------------------------------------------


@kill_app.command("status")
def kill_status(
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Show whether the kill switch is armed, its kind, reasons and since when."""
    with _exit_codes():
        state = _state(data_dir)
        try:
            current = state.kill_switch.status()
        finally:
            state.close()
        if as_json:
            _emit(current.to_dict())
        elif current.armed:
            typer.echo(
                f"ARMED ({current.kind}) since {current.since} by {current.source}: "
                f"{'; '.join(current.reasons)}"
            )
        else:
            typer.echo("disarmed")


@kill_app.command("arm")
def kill_arm(
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    no_exits: Annotated[
        bool,
        typer.Option("--no-exits", help="Block exits too (integrity kind): no order of any kind."),
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Arm the kill switch: no new entries (and with --no-exits, no orders at all)."""
    with _exit_codes():
        if not reason.strip():
            raise UsageError("--reason must say why")
        clock = _clock(config)
        state = _state(data_dir)
        _setup(state.data_dir, log_level, clock.now())
        try:
            current = state.kill_switch.arm(
                _scrubbed(reason),
                "integrity" if no_exits else "operational",
                "operator",
                clock.now(),
            )
        finally:
            state.close()
        if as_json:
            _emit(current.to_dict())
        else:
            typer.echo(f"ARMED ({current.kind}): {'; '.join(current.reasons)}")


@kill_app.command("disarm")
def kill_disarm(
    reason: Annotated[str, typer.Option("--reason", help="Why it is safe to trade again.")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Disarm the kill switch (the only way to lower or clear it)."""
    with _exit_codes():
        if not reason.strip():
            raise UsageError("--reason must say why")
        clock = _clock(config)
        state = _state(data_dir)
        _setup(state.data_dir, log_level, clock.now())
        try:
            current = state.kill_switch.disarm(_scrubbed(reason), "operator", clock.now())
        finally:
            state.close()
        if as_json:
            _emit(current.to_dict())
        else:
            typer.echo("disarmed")


# -- backups ------------------------------------------------------------------------------


@app.command("backup-run")
def backup_run(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    lock_timeout: Annotated[
        float, typer.Option("--lock-timeout", help="Seconds to wait for the job lock.")
    ] = 30,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Back up the state database and the audit log, rotate old copies, gzip old logs."""
    from bite.jobs.backup import run_backup_job

    with _exit_codes():
        clock = _clock(config)
        from bite.context import resolve_config_path, resolve_data_dir

        directory = resolve_data_dir(data_dir)
        _setup(directory, log_level, clock.now())
        outcome = run_backup_job(directory, resolve_config_path(config), clock, lock_timeout)
        if as_json:
            _emit(outcome.to_json())
        else:
            typer.echo(outcome.summary)
        if outcome.exit_code:
            raise typer.Exit(outcome.exit_code)


@backup_app.command("restore")
def backup_restore(
    file: Annotated[Path, typer.Argument(help="A state-*.sqlite file from data/backups.")],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Swap the state database for a backup (exit 3 while a job runs); arms the kill switch."""
    from bite.context import resolve_data_dir
    from bite.jobs.backup import restore_backup

    with _exit_codes():
        clock = _clock(config)
        directory = resolve_data_dir(data_dir)
        _setup(directory, log_level, clock.now())
        result = restore_backup(directory, file, clock.now())
        data = {
            "restored_from": str(result.restored_from),
            "replaced_kept_at": str(result.replaced_kept_at) if result.replaced_kept_at else None,
            "audit_seq": result.audit_seq,
            "kill_switch": "armed",
        }
        if as_json:
            _emit(data)
        else:
            typer.echo(
                f"restored {file}; replaced database kept at "
                f"{data['replaced_kept_at']}; kill switch ARMED (backup_restored) — "
                "check `bite status`, then `bite kill-switch disarm --reason ...`"
            )


# -- the jobs -----------------------------------------------------------------------------

DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Run the whole cycle on live data and write nothing, send nothing."
    ),
]


def _lock_option(default: float) -> Any:
    return typer.Option("--lock-timeout", help="Seconds to wait for the job lock.")


def _finish(report: Any, as_json: bool, printer: Any) -> None:
    data = report.to_json()
    if as_json:
        _emit(data)
    else:
        printer(data)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _run_job(
    job: str,
    approval: Any,
    cycle: Any,
    *,
    dry_run: bool,
    config: Path | None,
    data_dir: Path | None,
    lock_timeout: float,
    as_json: bool,
    log_level: str,
    printer: Any,
    with_recovery: bool,
) -> None:
    """Run one trading job through the runner and print or emit its report."""
    import asyncio

    from bite.context import resolve_config_path, resolve_data_dir
    from bite.jobs.runner import execute, recovery_step

    with _exit_codes():
        clock = _clock(config, data_dir)
        directory = resolve_data_dir(data_dir)
        _setup(None if dry_run else directory, log_level, clock.now())
        report = asyncio.run(
            execute(
                job,
                approval,
                cycle,
                config_path=resolve_config_path(config),
                data_dir=directory,
                clock=clock,
                dry_run=dry_run,
                lock_timeout_s=lock_timeout,
                trading=True,
                recovery=recovery_step if with_recovery else None,
            )
        )
        _finish(report, as_json, printer)


@app.command("entry-run")
def entry_run(
    dry_run: DryRunOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    lock_timeout: Annotated[float, _lock_option(300)] = 300,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """One entry cycle: validate, pick strikes, size, and work the order through its ladder."""
    from bite.jobs.entry import run_entry_cycle
    from bite.reporting.tables import print_entry

    async def cycle(run: Any) -> tuple[str, list[str], dict[str, Any]]:
        outcome = await run_entry_cycle(run)
        return outcome.status, outcome.reasons, outcome.to_json()

    _run_job(
        "entry-run",
        "entry",
        cycle,
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
    lock_timeout: Annotated[float, _lock_option(300)] = 300,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """One exit decision per open position; closes what a rule says to close."""
    from bite.jobs.monitor import run_monitor_cycle
    from bite.reporting.tables import print_monitor

    async def cycle(run: Any) -> tuple[str, list[str], dict[str, Any]]:
        outcome = await run_monitor_cycle(run)
        return outcome.status, outcome.reasons, outcome.to_json()

    _run_job(
        "monitor-run",
        "monitor",
        cycle,
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
    lock_timeout: Annotated[float, _lock_option(300)] = 300,
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
    lock_timeout: Annotated[float, _lock_option(30)] = 30,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Check services, SQLite, the audit anchor, missed jobs, stale orders, pin risk; heartbeat."""
    import asyncio

    from bite.context import resolve_config_path, resolve_data_dir
    from bite.jobs.health import run_health
    from bite.jobs.runner import JobResult

    with _exit_codes():
        clock = _clock(config, data_dir)
        directory = resolve_data_dir(data_dir)
        _setup(directory, log_level, clock.now())
        started = clock.now()
        report, approved, environment = asyncio.run(
            run_health(resolve_config_path(config), directory, clock, lock_timeout)
        )
        result = JobResult(
            "health-run",
            report.status,
            0,
            report.reasons,
            started,
            clock.now(),
            False,
            approved,
            environment,
            report.to_json(),
        )
        _finish(
            result,
            as_json,
            lambda data: typer.echo(
                f"health: {data['status']} (strikes {data['strikes']})"
                + (f" — {', '.join(data['reasons'])}" if data["reasons"] else "")
            ),
        )


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
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Engine, last runs, open positions, recent alerts, the Kelly estimate."""
    from bite.config.loader import load_config
    from bite.context import resolve_config_path
    from bite.jobs import status as st

    with _exit_codes():
        clock = _clock(config, data_dir)
        now = clock.now()
        try:
            environment: str | None = load_config(
                resolve_config_path(config)
            ).config.execution.environment
        except BiteError:
            environment = None
        state = _state(data_dir)
        try:
            data: dict[str, Any] = {
                "engine": st.engine(state, now, environment),
                "runs": st.last_runs(state),
                "positions": st.positions(state, now, include_closed=False),
                "alerts": st.recent_alerts(state),
                "kelly": st.kelly(state),
            }
        finally:
            state.close()
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
    """Ask the broker: equity, the collateral's delta, each position's cost to close and P&L."""
    import asyncio
    from decimal import Decimal

    from bite.config.loader import load_config
    from bite.context import open_clients, resolve_config_path, resolve_data_dir
    from bite.core.exit_decision import close_debits

    path = resolve_config_path(config)
    cfg = load_config(path).config

    async def ask() -> dict[str, Any]:
        clients = open_clients(cfg, clock, resolve_data_dir(data_dir), config_dir=path.parent)
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
            return {
                "index": str(index),
                "equity_eth": str(summary.equity),
                "equity_eur": str((summary.equity * index / rate).quantize(Decimal("0.01"))),
                "collateral_delta_eth": str(summary.equity),
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
) -> None:
    """Positions (live ones, or all with --all)."""
    from bite.jobs import status as st

    with _exit_codes():
        now = _clock(config, data_dir).now()
        state = _state(data_dir)
        try:
            rows = st.positions(state, now, include_closed=show_all)
        finally:
            state.close()
        if as_json:
            _emit({"positions": rows})
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
) -> None:
    """Every order the bot sent, with its state and fills."""
    from bite.jobs import status as st

    with _exit_codes():
        state = _state(data_dir)
        try:
            rows = st.orders(state, proposal)
        finally:
            state.close()
        if as_json:
            _emit({"orders": rows})
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


# -- backtest -----------------------------------------------------------------------------


def _day(value: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {value!r}") from None


@app.command("backtest")
def backtest_command(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
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
    config: ConfigOption = None,
    out: Annotated[
        Path, typer.Option("--out", help="Where trades.csv, equity.csv and equity.svg go.")
    ] = Path("backtest-out"),
    as_json: JsonOption = False,
    log_level: LogLevelOption = "ERROR",
) -> None:
    """Replay the schedule over real ETH history with the live cycle functions."""
    import asyncio
    from decimal import Decimal, InvalidOperation

    from bite.config.loader import load_config
    from bite.context import resolve_config_path
    from bite.paper.backtest import BacktestInputs, default_inputs, run_backtest, write_outputs
    from bite.paper.market import DataFileError

    with _exit_codes():
        first, last = _day(start), _day(end)
        shipped = default_inputs(first, last)
        try:
            equity = Decimal(starting_equity_eth)
        except InvalidOperation:
            raise UsageError(
                f"--starting-equity-eth: not a number: {starting_equity_eth!r}"
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
        )
        cfg = load_config(resolve_config_path(config)).config
        _setup(None, log_level)
        progress = None
        bar = None
        if not as_json and sys.stderr.isatty():
            from rich.progress import Progress

            bar = Progress(transient=True)
            task = bar.add_task("backtest", total=None)
            bar.start()

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

        try:
            result = asyncio.run(run_backtest(inputs, cfg, progress))
        except DataFileError as exc:
            raise UsageError(str(exc)) from None
        finally:
            if bar is not None:
                bar.stop()
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
        path = resolve_config_path(config)
        loaded = load_config(path)
        directory = resolve_data_dir(data_dir)
        _setup(None, log_level, clock.now())
        rows = asyncio.run(ping_services(loaded.config, clock, directory, path.parent))
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
) -> None:
    """Serve the four paper services over HTTP at /{service}/tools/{tool} and /{service}/health."""
    from bite.clock import WallClock
    from bite.config.loader import load_config
    from bite.context import resolve_config_path, resolve_data_dir
    from bite.paper.server import make_server
    from bite.paper.service import PaperService, build_market, parse_faults

    with _exit_codes():
        path = resolve_config_path(config)
        cfg = load_config(path).config
        directory = resolve_data_dir(data_dir)
        _setup(directory, log_level)
        service = PaperService(
            cfg, directory, build_market(cfg, path.parent), parse_faults(faults, cfg.paper.faults)
        )
        server = make_server(service, WallClock(), host, port, cfg.paper.serve_token)
        bound = server.server_address[1]
        typer.echo(
            f"paper services on http://{host}:{bound}/{{deribit,hyperliquid,macro,sentiment}}",
            err=True,
        )
        typer.echo(json.dumps({"port": bound}), err=False)
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
    from bite.paper.service import build_market

    path = resolve_config_path(config)
    cfg = load_config(path).config
    directory = resolve_data_dir(data_dir)
    return PaperExchange(
        directory / "paper.sqlite",
        build_market(cfg, path.parent),
        cfg.paper,
        cfg.fees,
        cfg.execution.combo_tick,
    )


@paper_app.command("status")
def paper_status(
    config: ConfigOption = None, data_dir: DataDirOption = None, as_json: JsonOption = False
) -> None:
    """The paper account: equity, positions, orders with labels and states."""
    with _exit_codes():
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
) -> None:
    """Reset the paper account to its starting equity (orders, trades, positions erased)."""
    with _exit_codes():
        if not yes and sys.stdin.isatty() and not typer.confirm("Reset the paper account?"):
            raise typer.Exit(0)
        exchange = _paper_exchange(config, data_dir)
        try:
            generation = exchange.reset()
        finally:
            exchange.close()
        typer.echo(f"paper account reset (generation {generation})")


def main() -> None:
    """Entry point of the ``bite`` script."""
    try:
        app()
    except BiteError as exc:  # a command that did not map its own error
        typer.echo(f"bite: {exc}", err=True)
        sys.exit(int(exc.exit_code))
