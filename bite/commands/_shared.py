"""What every command shares: the Typer apps, the common options, error and output handling.

Heavy modules are imported inside the commands that need them, so ``bite
--version`` and ``bite --help`` start fast. Options are written after the
command's name: ``bite kill-switch status --data-dir X --json``.

Every failure becomes its exit code through one function, :func:`report_failure`
(``bite.errors.as_bite_error`` says what a failure means); with ``--json`` it is
one JSON object with ``exit_code`` and ``error``, on failure too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bite import __version__
from bite.errors import EXIT_CODES_HELP, BiteError, ExitCode, UsageError, as_bite_error

if TYPE_CHECKING:
    from bite.clock import Clock
    from bite.context import StateContext

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
_JSON_ASKED: list[bool] = [False]
_ENVIRON: ContextVar[Mapping[str, str]] = ContextVar("bite_environ")


def environ() -> Mapping[str, str]:
    """The process environment, as :func:`bite.cli.run` read it once for this command.

    Nothing below the CLI reads ``os.environ``: every function that needs a
    variable is given this mapping, so a test can run a command in-process with
    an environment of its own.
    """
    return _ENVIRON.get()


@contextmanager
def using_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Run one command with ``env`` as its environment (and ``--json`` not yet seen)."""
    token = _ENVIRON.set(dict(env))
    _JSON_ASKED[0] = False
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def _note_json(value: bool) -> bool:
    """Remember ``--json`` so that a failure is reported as JSON too."""
    _JSON_ASKED[0] = _JSON_ASKED[0] or value
    return value


JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        callback=_note_json,
        help="One JSON object on stdout (with exit_code and error on failure).",
    ),
]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _check_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value.upper()


LogLevelOption = Annotated[
    str, typer.Option("--log-level", callback=_check_level, help=", ".join(LOG_LEVELS))
]
MAX_LOCK_TIMEOUT_S = 86_400.0


def _check_lock_timeout(value: float) -> float:
    if not 0 <= value <= MAX_LOCK_TIMEOUT_S:  # also refuses nan, which compares false
        raise typer.BadParameter(f"{value} is not a number of seconds in 0..{MAX_LOCK_TIMEOUT_S:g}")
    return value


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


def report_failure(exc: BaseException, as_json: bool | None = None) -> int:
    """The one place a failure becomes its exit code, one line on stderr, and the JSON.

    A known failure says what it is; anything else is a bug: its traceback goes to
    the log and the line says so. With ``--json`` stdout gets one object with
    ``exit_code`` and ``error``. No secret reaches either.
    """
    known = as_bite_error(exc)
    if known is None:
        import logging

        logging.getLogger("bite").error(
            "internal error: %s", type(exc).__name__, exc_info=(type(exc), exc, exc.__traceback__)
        )
        code, message = ExitCode.INTERNAL, f"internal error ({type(exc).__name__}); see the log"
    else:
        code, message = known.exit_code, _scrubbed(str(known))
    typer.echo(f"bite: {message}", err=True)
    if _JSON_ASKED[0] if as_json is None else as_json:
        _emit({"exit_code": int(code), "error": message, "status": "error"})
    return int(code)


@contextmanager
def _exit_codes() -> Iterator[None]:
    """Turn any failure into its exit code (:func:`report_failure`)."""
    try:
        yield
    except (typer.Exit, typer.TyperException):  # a bad parameter is click's to report (exit 2)
        raise
    except Exception as exc:
        raise typer.Exit(report_failure(exc)) from None


def _setup(data_dir: Path | None, level: str, clock_now: datetime | None = None) -> None:
    from bite.clock import WallClock
    from bite.config.secrets import known_secret_values
    from bite.log import setup_logging

    now = clock_now or WallClock().now()
    setup_logging(data_dir, level, known_secret_values(environ()), now)


def config_state(config: Path | None, state: StateContext) -> dict[str, Any]:
    """The config file a command was pointed at: valid, its hash, approved in this data dir.

    Every command takes ``--config``; the read-only views report this so that an
    operator sees at once whether the file on disk is the one the jobs trade with.
    """
    from bite.config.loader import load_config
    from bite.context import resolve_config_path

    path = resolve_config_path(config, environ())
    try:
        loaded = load_config(path)
    except BiteError as exc:
        return {"file": str(path), "valid": False, "error": _scrubbed(str(exc))}
    return {
        "file": str(path),
        "valid": True,
        "hash": loaded.hash,
        "approved": state.repo.is_config_approved(loaded.hash),
    }


def _view(level: str) -> None:
    """Logging for a read-only view: stderr at ``--log-level``, no log file written."""
    _setup(None, level)


def _clock(config: Path | None, data_dir: Path | None = None) -> Clock:
    """The run's clock; ``CERBERO_BITE_NOW`` only in the paper environment.

    The environment is the config file's, or, when the file does not validate, the
    last approved config's (the one monitor-run will trade with).
    """
    from bite.clock import NOW_ENV, WallClock, clock_from_env
    from bite.config.loader import config_from_dump, load_config
    from bite.context import open_state, resolve_config_path, resolve_data_dir

    if NOW_ENV not in environ():
        return WallClock()
    environment: str = ""
    try:
        environment = load_config(
            resolve_config_path(config, environ())
        ).config.execution.environment
    except BiteError:
        state_file = resolve_data_dir(data_dir, environ()) / "state.sqlite"
        if state_file.exists():
            with open_state(resolve_data_dir(data_dir, environ())) as state:
                last = state.repo.last_approved_config()
            if last is not None:
                environment = config_from_dump(last.dump).execution.environment
        if not environment:
            raise UsageError(
                f"{NOW_ENV} needs a valid or approved config in the paper environment"
            ) from None
    return clock_from_env(dict(environ()), environment)


def _scrubbed(text: str) -> str:
    """Operator text with any known secret value removed."""
    from bite.config.secrets import known_secret_values
    from bite.log import redact_text

    return redact_text(text, known_secret_values(environ()))


def _state(data_dir: Path | None) -> StateContext:
    from bite.context import open_state, resolve_data_dir

    return open_state(resolve_data_dir(data_dir, environ()))


# -- the jobs -----------------------------------------------------------------------------

DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Run the whole cycle on live data and write nothing, send nothing."
    ),
]


def _lock_option() -> Any:
    return typer.Option(
        "--lock-timeout", callback=_check_lock_timeout, help="Seconds to wait for the job lock."
    )


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
        directory = resolve_data_dir(data_dir, environ())
        _setup(None if dry_run else directory, log_level, clock.now())
        report = asyncio.run(
            execute(
                job,
                approval,
                cycle,
                config_path=resolve_config_path(config, environ()),
                data_dir=directory,
                clock=clock,
                dry_run=dry_run,
                lock_timeout_s=lock_timeout,
                trading=True,
                environ=environ(),
                recovery=recovery_step if with_recovery else None,
            )
        )
        _finish(report, as_json, printer)
