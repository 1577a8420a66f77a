"""Run the real ``bite`` CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def bite(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m bite ARGS`` with a clean environment plus ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CERBERO_BITE_")}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bite", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd or ROOT,
        timeout=timeout,
        check=False,
    )
