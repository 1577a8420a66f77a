"""Other processes a test runs beside bite: a holder of the job lock, a paper server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HOLD = """
import sys, time
from pathlib import Path
from bite.safety.lock import JobLock
lock = JobLock(Path(sys.argv[1]), 5, owner="holder")
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


@contextmanager
def held_lock(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the job lock until the block ends (then it is killed with -9)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@contextmanager
def paper_server(tmp_path: Path, config_text: str = "", faults: str | None = None) -> Iterator[int]:
    """Start ``bite paper serve --port 0``; yield its port; stop it."""
    config = tmp_path / "server.yaml"
    config.write_text(config_text, encoding="utf-8")
    args = [
        sys.executable,
        "-m",
        "bite",
        "paper",
        "serve",
        "--port",
        "0",
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "server-data"),
    ]
    if faults:
        args += ["--faults", faults]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERBERO_BITE_")}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env
    )
    try:
        assert proc.stdout is not None
        port = int(json.loads(proc.stdout.readline())["port"])
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
