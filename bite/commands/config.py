"""bite config: validate, show, hash, diff, approve."""

from __future__ import annotations

import sys
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
    _state,
    _view,
    config_app,
    environ,
)
from bite.errors import ConfigError, ExitCode, UsageError

# -- config -------------------------------------------------------------------------------


def _approved_in(data_dir: Path | None, config_hash: str) -> bool | None:
    """Whether ``config_hash`` is approved in the data dir; None when it holds no state yet."""
    from bite.context import STATE_FILE, resolve_data_dir

    directory = resolve_data_dir(data_dir, environ())
    if not (directory / STATE_FILE).exists():
        return None
    with _state(directory) as state:
        return state.repo.is_config_approved(config_hash)


def _approval_words(approved: bool | None) -> str:
    return {True: "approved", False: "NOT approved", None: "no state yet"}[approved]


@config_app.command("validate")
def config_validate(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Validate the config; exit 2 naming the file, field and problem when it is wrong.

    With a data dir that holds state, also say whether this version is approved there.
    """
    from bite.config.loader import load_config
    from bite.context import resolve_config_path

    with _exit_codes():
        _view(log_level)
        path = resolve_config_path(config, environ())
        try:
            loaded = load_config(path)
        except ConfigError as exc:
            if as_json:
                _emit({"valid": False, "error": str(exc), "exit_code": int(exc.exit_code)})
            else:
                typer.echo(f"bite: {exc}", err=True)
            raise typer.Exit(int(exc.exit_code)) from None
        approved = _approved_in(data_dir, loaded.hash)
        if as_json:
            _emit(
                {
                    "valid": True,
                    "file": str(loaded.path),
                    "hash": loaded.hash,
                    "local_file": str(loaded.local_path) if loaded.local_path else None,
                    "approved": approved,
                }
            )
            return
        local = f" (with {loaded.local_path})" if loaded.local_path else ""
        typer.echo(f"{loaded.path}{local}: valid, hash {loaded.hash} ({_approval_words(approved)})")


@config_app.command("show")
def config_show(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Print the effective config (defaults filled in, secrets hidden)."""
    import yaml

    from bite.config.loader import load_config, redacted
    from bite.context import resolve_config_path

    with _exit_codes():
        _view(log_level)
        loaded = load_config(resolve_config_path(config, environ()))
        approved = _approved_in(data_dir, loaded.hash)
        data = redacted(loaded.config)
        if as_json:
            _emit(data)
            return
        typer.echo(
            f"# effective config from {loaded.path}, hash {loaded.hash} "
            f"({_approval_words(approved)})"
        )
        typer.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


@config_app.command("hash")
def config_hash_command(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Print the canonical SHA-256 of the effective config."""
    from bite.config.loader import load_config
    from bite.context import resolve_config_path

    with _exit_codes():
        _view(log_level)
        loaded = load_config(resolve_config_path(config, environ()))
        if as_json:
            approved = _approved_in(data_dir, loaded.hash)
            _emit({"file": str(loaded.path), "hash": loaded.hash, "approved": approved})
            return
        typer.echo(loaded.hash)


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
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    log_level: LogLevelOption = "WARNING",
) -> None:
    """Show how the config file differs from the last approved version."""
    from bite.config.loader import load_config
    from bite.context import resolve_config_path
    from bite.safety.config_approval import diff

    with _exit_codes():
        _view(log_level)
        loaded = load_config(resolve_config_path(config, environ()))
        with _state(data_dir) as state:
            last = state.repo.last_approved_config()
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
        loaded = load_config(resolve_config_path(config, environ()))
        with _state(data_dir) as state:
            _setup(state.data_dir, log_level, clock.now())
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
