"""Run a trading job through the real runner on a virtual clock, outside paper.

``CERBERO_BITE_NOW`` is honoured in paper only, so an end-to-end test of a testnet
job that sends orders would otherwise run on the wall clock, and wait out Deribit's
settlement window (07:30-08:15 UTC) whenever it happens to run then. This runs the
same ``execute`` the CLI runs (lock, boot, environment check, recovery, cycle), with a
``VirtualClock`` passed in as the composition root allows; as a child process too
(``python -m tests.e2e.virtual_job JOB CONFIG DATA_DIR NOW``) so a test can kill it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bite.clock import VirtualClock
from bite.jobs.entry import run_entry_cycle
from bite.jobs.monitor import run_monitor_cycle
from bite.jobs.runner import JobResult, cycle_of, execute, recovery_step
from bite.safety.config_approval import Job


def run_job(job: str, config: Path, data_dir: Path, now: datetime) -> dict[str, Any]:
    """``entry-run`` or ``monitor-run`` at ``now``; the report as ``--json`` prints it."""
    entry = job == "entry-run"
    approval: Job = "entry" if entry else "monitor"
    result: JobResult = asyncio.run(
        execute(
            job,
            approval,
            cycle_of(run_entry_cycle if entry else run_monitor_cycle),
            config_path=config,
            data_dir=data_dir,
            clock=VirtualClock(now),
            dry_run=False,
            lock_timeout_s=5,
            trading=True,
            environ=os.environ,  # the test's own (credentials set by monkeypatch)
            recovery=recovery_step,
        )
    )
    return result.to_json()


if __name__ == "__main__":
    job, config, data_dir, now = sys.argv[1:5]
    run_job(job, Path(config), Path(data_dir), datetime.fromisoformat(now))
