"""``bite ping``: is each service reachable, how fast, in which environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bite.clock import Clock
from bite.config.schema import SERVICE_NAMES, StrategyConfig
from bite.context import open_clients
from bite.errors import McpError


@dataclass(frozen=True)
class PingRow:
    """One service's answer."""

    service: str
    transport: str
    reachable: bool
    latency_ms: float
    environment: str | None
    error: str | None
    exit_code: int = 0


async def ping_services(
    cfg: StrategyConfig,
    clock: Clock,
    data_dir: Path,
    config_dir: Path,
    environ: Mapping[str, str],
) -> list[PingRow]:
    """Health of every service; the broker also says its environment."""
    clients = open_clients(cfg, clock, data_dir, config_dir=config_dir, environ=environ)
    rows: list[PingRow] = []
    try:
        for name in SERVICE_NAMES:
            transport = getattr(cfg.services, name).transport
            try:
                latency = await clients.http.health(name)
                environment = await clients.deribit.environment() if name == "deribit" else None
                rows.append(PingRow(name, transport, True, latency, environment, None))
            except McpError as exc:
                rows.append(
                    PingRow(name, transport, False, 0.0, None, exc.detail, int(exc.exit_code))
                )
    finally:
        await clients.aclose()
    return rows
