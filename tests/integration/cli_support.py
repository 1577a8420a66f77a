"""Run the real ``bite`` CLI: in this process by default, as a child process on request.

In-process, a command runs through :func:`bite.cli.run` (the same parsing, exit-code
mapping and ``--json`` handling as ``python -m bite``) with its own environment,
working directory, stdout and stderr; it saves a fresh interpreter's start per call.
A test that needs a real process asks for one with ``process=True``: the promises
of the command line itself, a lock held by another process, a process killed at a
crash point (``CERBERO_BITE_CRASH_AT`` always runs as a process: it ends the
process it runs in).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

from bite.cli import run
from bite.paper.crash import CRASH_ENV

ROOT = Path(__file__).resolve().parents[2]


def bite(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``bite ARGS`` with a clean environment (no ``CERBERO_BITE_*``) plus ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CERBERO_BITE_")}
    full.update(env or {})
    if process or full.get(CRASH_ENV):
        return subprocess.run(
            [sys.executable, "-m", "bite", *args],
            capture_output=True,
            text=True,
            env=full,
            cwd=cwd or ROOT,
            timeout=timeout,
            check=False,
        )
    return in_process(list(args), full, cwd or ROOT)


def in_process(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """One command in this process; what it printed, and its exit code as a process's."""
    out, err = io.StringIO(), io.StringIO()
    logger = logging.getLogger("bite")
    handlers = list(logger.handlers)
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run(args, env)
        except SystemExit as exc:  # as the interpreter turns it into a status
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # what would have been a traceback and exit 1
            traceback.print_exc()
            code = 1
        finally:
            for handler in list(logger.handlers):  # a run's log file is closed with the run
                if handler not in handlers:
                    logger.removeHandler(handler)
                    handler.close()
            logger.handlers[:] = handlers
    return subprocess.CompletedProcess(["bite", *args], code, out.getvalue(), err.getvalue())
