"""Helpers for tests that run the real clients against the paper exchange."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bite.clock import VirtualClock
from bite.config.schema import StrategyConfig
from bite.context import Clients, open_clients

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
R = TypeVar("R")

FLAT = """points:
  - {time: '2026-02-01T00:00:00Z', spot: 3000, dvol: 60, fear_greed: 50}
  - {time: '2026-04-01T00:00:00Z', spot: 3000, dvol: 60, fear_greed: 50}
"""


def flat_config(
    tmp_path: Path, extra: dict[str, Any] | None = None, script: str = FLAT
) -> StrategyConfig:
    """A paper config on a scripted market (flat unless told), instant retries."""
    (tmp_path / "script.yaml").write_text(script, encoding="utf-8")
    data: dict[str, Any] = {
        "execution": {"retry_waits_s": [0, 0, 0]},
        "paper": {"market": {"kind": "scripted", "script_file": str(tmp_path / "script.yaml")}},
    }
    for key, value in (extra or {}).items():
        data.setdefault(key, {}).update(value)
    return StrategyConfig.model_validate(data)


def with_clients(
    cfg: StrategyConfig,
    data_dir: Path,
    body: Callable[[Clients, VirtualClock], Awaitable[R]],
    environ: dict[str, str] | None = None,
    start: datetime = T0,
    *,
    in_process: bool = False,
    durable: bool = True,
) -> R:
    """Run ``body`` with real clients on the in-process paper exchange, then close them
    (``in_process``: asked without HTTP, as a backtest asks it; ``durable`` False: on a
    backtest's throwaway account)."""
    clock = VirtualClock(start)

    async def main() -> R:
        clients = open_clients(
            cfg, clock, data_dir, environ=environ or {}, in_process=in_process, durable=durable
        )
        try:
            return await body(clients, clock)
        finally:
            await clients.aclose()

    return asyncio.run(main())


def later(clock: VirtualClock, **delta: float) -> None:
    """Move the virtual clock on."""
    clock.advance_to(clock.now() + timedelta(**delta))
