"""The ``bite`` command line: parse, build the context, call the module, map the exit code.

Commands live in ``bite/commands/`` (one module per area) and register on the one
Typer app; heavy modules are imported inside the commands that need them, and
``bite --version`` imports nothing but this module (a cron job pays its start every
time). Options are written after the command's name: ``bite kill-switch status
--data-dir X --json``.

:func:`run` is the last line of defence: a usage error, a failure a command did
not map and a bug all end in their exit code and one line (``bite.errors``), and
with ``--json`` in one JSON object, never in a bare traceback on the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["main", "run"]  # and ``app``, built on first use (module __getattr__)


def __getattr__(name: str) -> Any:
    """``bite.cli.app``: the Typer app, built on first use."""
    if name == "app":
        from bite.commands import config, dashboard, jobs, market, safety, views  # noqa: F401
        from bite.commands._shared import app

        return app
    raise AttributeError(name)


def run(args: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Run the CLI on ``args`` and return the exit code.

    The one place the process environment is read: ``environ`` (default
    ``os.environ``) is handed to the command, and everything below it is given
    the mapping rather than reading the environment itself.
    """
    if list(args) == ["--version"]:  # the cheapest start: no Typer, no pydantic
        from bite import __version__

        sys.stdout.write(f"bite {__version__}\n")
        return 0
    import os

    from bite.commands._shared import using_environ

    with using_environ(os.environ if environ is None else environ):
        return _run(list(args))


def _app_for(args: list[str]) -> Any:
    """The app to parse ``args`` with: only the named command, or the whole tree.

    Typer builds every command's options before it parses (about 50 ms for the
    whole tree); a job names its command first, so only that command (or that
    group's commands) is built. Anything else (``--help``, no command, a name
    that does not exist) gets the whole tree and its usual answer.
    """
    import typer

    app = __getattr__("app")
    name = args[0] if args else ""
    commands = [c for c in app.registered_commands if c.name == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    narrow = typer.Typer(
        name=app.info.name,
        help=app.info.help,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    narrow.registered_commands = commands
    narrow.registered_groups = groups
    narrow.callback()(_root)  # a group, as the whole app is: the name is still parsed
    return narrow


def _root() -> None:
    return


def _run(args: list[str]) -> int:
    import typer

    from bite.commands._shared import _emit, report_failure
    from bite.errors import ExitCode

    as_json = "--json" in args
    try:
        result = _app_for(args)(args=list(args), standalone_mode=False, prog_name="bite")
    except typer.TyperException as exc:  # the command line itself: unknown option, bad value
        if as_json:
            _emit({"exit_code": int(ExitCode.USAGE), "error": exc.format_message()})
        elif hasattr(exc, "show"):
            exc.show()  # click's usage line and the error
        else:
            typer.echo(f"bite: {exc.format_message()}", err=True)
        return int(ExitCode.USAGE)
    except typer.Abort:
        typer.echo("bite: aborted", err=True)
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        typer.echo("bite: interrupted", err=True)
        return 130
    except Exception as exc:
        return report_failure(exc, as_json)
    return result if isinstance(result, int) else 0


def main() -> None:
    """Entry point of the ``bite`` script (and ``python -m bite``)."""
    sys.exit(run(sys.argv[1:]))
