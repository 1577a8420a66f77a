"""The ``bite`` command line: parse, call the right module, map errors to exit codes.

Heavy modules are imported inside the commands that need them, so ``bite
--version`` and ``bite --help`` start fast.

Exit codes: 0 done (any decision) · 1 internal error · 2 usage or configuration
· 3 job lock not acquired · 4 integrity check failed · 75 broker unavailable.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bite import __version__
from bite.errors import BiteError, ExitCode

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
    help="Show, validate and hash the strategy configuration.", no_args_is_help=True
)
app.add_typer(config_app, name="config")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="strategy.yaml to use (env CERBERO_BITE_CONFIG; "
        "strategy.local.yaml beside it is merged over it).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]


def config_path(option: Path | None) -> Path:
    """The config file: the option, else ``CERBERO_BITE_CONFIG``, else ``./strategy.yaml``."""
    if option is not None:
        return option
    return Path(os.environ.get("CERBERO_BITE_CONFIG", "strategy.yaml"))


def fail(error: BiteError) -> typer.Exit:
    """Print a bite error on stderr and return the exit to raise."""
    typer.echo(f"bite: {error}", err=True)
    return typer.Exit(int(error.exit_code))


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
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


@config_app.command("validate")
def config_validate(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Validate the config; exit 2 naming the file, field and problem when it is wrong."""
    from bite.config.loader import load_config

    path = config_path(config)
    try:
        loaded = load_config(path)
    except BiteError as exc:
        if as_json:
            _emit({"valid": False, "error": str(exc)})
            raise typer.Exit(int(exc.exit_code)) from None
        raise fail(exc) from None
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

    try:
        loaded = load_config(config_path(config))
    except BiteError as exc:
        raise fail(exc) from None
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

    try:
        loaded = load_config(config_path(config))
    except BiteError as exc:
        raise fail(exc) from None
    typer.echo(loaded.hash)


def main() -> None:
    """Entry point of the ``bite`` script."""
    try:
        app()
    except BiteError as exc:  # a command that did not map its own error
        typer.echo(f"bite: {exc}", err=True)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERNAL))
