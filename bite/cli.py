"""The ``bite`` command line: parse, build the context, call the module, map the exit code.

Commands live in ``bite/commands/`` (one module per area) and register on the one
Typer app; heavy modules are imported inside the commands that need them, so
``bite --version`` and ``bite --help`` start fast. Options are written after the
command's name: ``bite kill-switch status --data-dir X --json``.

Exit codes: 0 done (any decision) · 1 internal error · 2 usage or configuration
· 3 job lock not acquired · 4 integrity check failed · 75 broker unavailable.
"""

from __future__ import annotations

import sys

import typer

from bite.commands import config, jobs, market, safety, views  # noqa: F401 - they register
from bite.commands._shared import app
from bite.errors import BiteError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``bite`` script."""
    try:
        app()
    except BiteError as exc:  # a command that did not map its own error
        typer.echo(f"bite: {exc}", err=True)
        sys.exit(int(exc.exit_code))
