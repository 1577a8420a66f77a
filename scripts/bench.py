"""Benchmarks of the project, printed as a table (``make bench``).

Measures what exists today: the CLI's cold start and the pure core on the real
2025-11-22 chain. Timings are medians of repeated runs; nothing here asserts a
time, it reports one.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    """Run every benchmark and print the table."""
    from bite.config.schema import StrategyConfig
    from bite.core.strike_selector import select_strikes
    from tests.support import load_chain_snapshot

    rows: list[tuple[str, str]] = []
    bite = [sys.executable, "-m", "bite", "--version"]
    cold = _median_ms(lambda: subprocess.run(bite, check=True, capture_output=True), 7)
    rows.append(("cold start: bite --version", f"{cold:.0f} ms"))

    now, spot, chain = load_chain_snapshot()
    cfg = StrategyConfig()
    sel = _median_ms(lambda: select_strikes(chain, "bull", spot, now, cfg), 20)
    rows.append((f"select_strikes, real chain ({len(chain)} options)", f"{sel:.1f} ms"))

    width = max(len(name) for name, _ in rows)
    print(f"{'benchmark':<{width}}  result")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
