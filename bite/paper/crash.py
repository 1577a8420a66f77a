"""``CERBERO_BITE_CRASH_AT``: a job kills itself at a named point (paper only).

Reliability tests use it to prove that the next run recovers from a process that
died mid-order: the process ends with ``os._exit(137)``, as if killed, without
running any cleanup.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from bite.errors import UsageError

CRASH_ENV = "CERBERO_BITE_CRASH_AT"
POINTS = frozenset(
    {
        "after_proposed_commit",
        "after_order_sent",
        "after_fill_before_commit",
        "after_exit_sent",
        "after_hedge_sent",
    }
)
KILLED = 137


def check_crash_point(environ: Mapping[str, str]) -> str | None:
    """The configured crash point, validated (a job calls this at boot)."""
    env = environ
    point = env.get(CRASH_ENV)
    if point and point not in POINTS:
        raise UsageError(f"{CRASH_ENV}={point!r}: not one of {', '.join(sorted(POINTS))}")
    return point or None


def crash_point(name: str, environ: Mapping[str, str]) -> None:
    """Die here when ``CERBERO_BITE_CRASH_AT`` names this point."""
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name}")
    env = environ
    if env.get(CRASH_ENV) == name:
        sys.stderr.write(f"bite: {CRASH_ENV}={name}: killing the process\n")
        sys.stderr.flush()
        os._exit(KILLED)
