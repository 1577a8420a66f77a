"""bite audit, bite kill-switch, bite backup-run and bite backup restore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bite.commands._shared import (
    ConfigOption,
    DataDirOption,
    JsonOption,
    LogLevelOption,
    _clock,
    _emit,
    _exit_codes,
    _lock_option,
    _scrubbed,
    _setup,
    _state,
    _view,
    app,
    audit_app,
    backup_app,
    config_state,
    environ,
    kill_app,
)
from bite.errors import ExitCode, UsageError

# -- audit --------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    log_level: LogLevelOption = "WARNING",
    witness: Annotated[
        str | None,
        typer.Option(
            "--witness",
            help="SEQ:HASH from health-run's daily Telegram notice: the chain must hold it "
            "(proves the log was not rewritten together with its anchor).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Walk the whole chain; name the first bad seq; exit 4 when broken or a broken log remains."""
    with _exit_codes():
        _view(log_level)
        given = _parse_witness(witness) if witness is not None else None
        with _state(data_dir) as state:
            report = state.audit.verify(witness=given)
            configured = config_state(config, state)
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
                    "witness_ok": report.witness_ok,
                    "witness_problem": report.witness_problem,
                    "config": configured,
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
            if report.witness_ok is not None:
                typer.echo(
                    "witness: held by the chain"
                    if report.witness_ok
                    else f"witness: NOT in the chain ({report.witness_problem})"
                )
            for name in report.broken_logs:
                typer.echo(
                    f"set-aside damaged log still present: {name} (examine, then move "
                    "it out of the data dir)"
                )
        if not report.healthy:
            raise typer.Exit(int(ExitCode.INTEGRITY))


def _parse_witness(text: str) -> tuple[int, str]:
    seq, sep, digest = text.strip().partition(":")
    if not (
        sep and seq.isdigit() and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    ):
        raise UsageError(f"--witness: {text!r} is not SEQ:HASH (a number and 64 hex digits)")
    return int(seq), digest


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
        _view(log_level)
        with _state(data_dir) as state:
            records = state.audit.tail(lines)
            configured = config_state(config, state)
        if as_json:
            _emit({"records": records, "config": configured})
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
        _view(log_level)
        with _state(data_dir) as state:
            current = state.kill_switch.status()
            configured = config_state(config, state)
        if as_json:
            _emit({**current.to_dict(), "config": configured})
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
        from bite.config.secrets import known_secret_values
        from bite.context import arm_kill_switch, resolve_data_dir

        if not reason.strip():
            raise UsageError("--reason must say why")
        clock = _clock(config)
        directory = resolve_data_dir(data_dir, environ())
        _setup(directory, log_level, clock.now())
        current = arm_kill_switch(
            directory,
            reason,
            "integrity" if no_exits else "operational",
            "operator",
            clock.now(),
            known_secret_values(environ()),
        )
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
        with _state(data_dir) as state:
            _setup(state.data_dir, log_level, clock.now())
            current = state.kill_switch.disarm(_scrubbed(reason), "operator", clock.now())
        if as_json:
            _emit(current.to_dict())
        else:
            typer.echo("disarmed")


# -- backups ------------------------------------------------------------------------------


@app.command("backup-run")
def backup_run(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    lock_timeout: Annotated[float, _lock_option()] = 30,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "INFO",
) -> None:
    """Back up the state database and the audit log, rotate old copies, gzip old logs."""
    from bite.jobs.backup import run_backup_job

    with _exit_codes():
        clock = _clock(config)
        from bite.context import resolve_config_path, resolve_data_dir

        directory = resolve_data_dir(data_dir, environ())
        _setup(directory, log_level, clock.now())
        outcome = run_backup_job(
            directory, resolve_config_path(config, environ()), clock, lock_timeout, environ()
        )
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
    from bite.config.secrets import known_secret_values
    from bite.context import resolve_data_dir
    from bite.jobs.backup import restore_backup

    with _exit_codes():
        clock = _clock(config)
        directory = resolve_data_dir(data_dir, environ())
        _setup(directory, log_level, clock.now())
        result = restore_backup(
            directory, file, clock.now(), secrets=known_secret_values(environ())
        )
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
