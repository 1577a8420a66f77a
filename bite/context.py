"""The one composition root: only here are the repository, the audit log and the switch built.

Nothing happens at import time. Commands and jobs open what they need through
these functions and close it when they exit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from bite.clients._http import Endpoint, Local, McpHttp
from bite.clients.deribit import DeribitClient
from bite.clients.hyperliquid import HyperliquidClient
from bite.clients.macro import MacroClient
from bite.clients.portfolio import PortfolioClient
from bite.clients.sentiment import SentimentClient
from bite.clients.telegram import API as TELEGRAM_API
from bite.clients.telegram import TelegramClient
from bite.clock import NOW_ENV, Clock
from bite.config.loader import LoadedConfig, load_config
from bite.config.schema import SERVICE_NAMES, StrategyConfig
from bite.config.secrets import known_secret_values, read_secret
from bite.errors import ConfigError, UsageError
from bite.log import redact_text
from bite.paper.crash import check_crash_point, crash_point
from bite.paper.faults import FAULTS_ENV, parse_faults
from bite.safety.audit_log import AuditLog, BootResult
from bite.safety.kill_switch import KillSwitch, KillSwitchState, Kind
from bite.state.db import make_throwaway, open_database, open_readonly
from bite.state.repository import Repository

if TYPE_CHECKING:  # loaded by the runs that use them (a cron job pays its start every time)
    from bite.clients.direct.deribit_rpc import DeribitDirectTransport
    from bite.paper.market import MarketSource
    from bite.paper.service import PaperService

log = logging.getLogger("bite.context")
DATA_DIR_ENV = "CERBERO_BITE_DATA_DIR"
CONFIG_ENV = "CERBERO_BITE_CONFIG"
STATE_FILE = "state.sqlite"


def _given(option: Path | None, env: Mapping[str, str], name: str, default: str) -> Path:
    """The option, else the variable, else the default; an empty one is refused.

    ``Path("")`` is the current directory: an empty variable left by a broken unit
    file would silently point the bot at wherever it was started.
    """
    if option is not None:
        if not str(option).strip() or str(option) == ".":
            raise UsageError(f"an empty path was given for {name}; name a path")
        return option
    raw = env.get(name, default)
    if not raw.strip():
        raise UsageError(f"{name} is set but empty; unset it or name a path")
    return Path(raw)


def resolve_data_dir(option: Path | None, environ: Mapping[str, str]) -> Path:
    """The data dir: the option, else ``CERBERO_BITE_DATA_DIR``, else ``./data``.

    A path that exists and is not a directory is refused (exit 2, naming it).
    """
    env = environ
    path = _given(option, env, DATA_DIR_ENV, "data")
    if path.exists() and not path.is_dir():
        raise UsageError(f"the data dir {path} exists and is not a directory")
    return path


def resolve_config_path(option: Path | None, environ: Mapping[str, str]) -> Path:
    """The config file: the option, else ``CERBERO_BITE_CONFIG``, else ``./strategy.yaml``."""
    env = environ
    return _given(option, env, CONFIG_ENV, "strategy.yaml")


def try_load_config(path: Path) -> LoadedConfig | ConfigError:
    """Load the config, keeping a validation error as a value (boot step 2)."""
    try:
        return load_config(path)
    except ConfigError as exc:
        return exc


@dataclass
class StateContext:
    """The database, the audit chain and the kill switch of one data dir."""

    data_dir: Path
    repo: Repository
    audit: AuditLog
    kill_switch: KillSwitch

    def close(self) -> None:
        """Close the database."""
        self.repo.close()

    def __enter__(self) -> StateContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_state(
    data_dir: Path, *, secrets: tuple[str, ...] = (), durable: bool = True
) -> StateContext:
    """Open (creating and migrating when needed) the state of ``data_dir``.

    ``secrets`` are the run's secret values (``known_secret_values``): the audit log
    refuses to write them. ``durable`` False (a backtest's throwaway state only) skips
    the audit log's fsync and SQLite's sync, journal and shared lock.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = open_database(data_dir / STATE_FILE)
    if not durable:
        make_throwaway(conn)
    repo = Repository(conn)
    audit = AuditLog(data_dir, repo, secrets, durable=durable)
    switch = KillSwitch(repo, audit)

    def chain_reset(result: BootResult, now: datetime) -> None:
        """An append found the tail off its anchor: the log was set aside; stop trading."""
        log.critical(
            "audit log tail did not match its anchor (%s): set aside as %s",
            result.detail,
            result.set_aside.name if result.set_aside else "-",
        )
        switch.arm("audit_mismatch", "integrity", "audit", now)

    audit.on_reset = chain_reset
    return StateContext(data_dir=data_dir, repo=repo, audit=audit, kill_switch=switch)


def open_state_readonly(data_dir: Path) -> StateContext:
    """The state of ``data_dir`` for reading only (the dashboard): a ``mode=ro`` SQLite
    connection, no migration, nothing created. Writing through it fails; a missing or
    unreadable database raises :class:`bite.state.db.DatabaseError`."""
    repo = Repository(open_readonly(data_dir / STATE_FILE))
    audit = AuditLog(data_dir, repo)
    return StateContext(
        data_dir=data_dir, repo=repo, audit=audit, kill_switch=KillSwitch(repo, None)
    )


def arm_kill_switch(
    data_dir: Path, reason: str, kind: Kind, source: str, now: datetime, secrets: tuple[str, ...]
) -> KillSwitchState:
    """Arm the switch on a short write connection of its own: ``bite kill-switch arm``
    (source ``operator``) and the dashboard's one action (source ``dashboard``).

    The reason is kept in the audit log with every known secret value removed.
    """
    if not reason.strip():
        raise UsageError("the kill switch needs a reason (it is kept in the audit log)")
    with open_state(data_dir, secrets=secrets) as state:
        return state.kill_switch.arm(redact_text(reason, secrets), kind, source, now)


# -- services -----------------------------------------------------------------------------

CRASH_ENV = "CERBERO_BITE_CRASH_AT"
PAPER_BASE = "http://paper.invalid"


def direct_base(name: str) -> str:
    """The in-process address of one service's direct connector. A host of its own:
    httpx matches a mount by scheme, host and port, never by path."""
    return f"http://{name}.direct.invalid"


def crash_checkpoint(environment: str, environ: Mapping[str, str]) -> Callable[[str], None]:
    """The run's checkpoint: in paper, where ``CERBERO_BITE_CRASH_AT`` may name a point to
    die at (reliability tests), ``paper.crash``; elsewhere it does nothing. The jobs call
    it and never import the paper exchange."""
    if environment != "paper":
        return _no_checkpoint
    check_crash_point(environ)
    return lambda name: crash_point(name, environ)


def _no_checkpoint(name: str) -> None:
    return


def check_paper_only_env(environment: str, environ: Mapping[str, str]) -> None:
    """``CERBERO_BITE_NOW``, ``_PAPER_FAULTS`` and ``_CRASH_AT`` are refused outside paper."""
    env = environ
    if environment == "paper":
        return
    present = [name for name in (NOW_ENV, FAULTS_ENV, CRASH_ENV) if env.get(name)]
    if present:
        raise UsageError(
            f"{', '.join(present)} honoured in the paper environment only, not in {environment}"
        )


def endpoints(cfg: StrategyConfig, environ: Mapping[str, str]) -> dict[str, Endpoint]:
    """Each service's URL, token and timeout; paper services without a URL are in-process."""
    env = environ
    found: dict[str, Endpoint] = {}
    for name in SERVICE_NAMES:
        service = getattr(cfg.services, name)
        url = service.url
        if cfg.execution.environment != "paper" and service.transport == "direct":
            url = f"{direct_base(name)}/{name}"
        if url is None:
            if cfg.execution.environment != "paper":
                raise ConfigError(
                    "strategy.yaml",
                    [(f"services.{name}.url", f"needed in {cfg.execution.environment}")],
                )
            url = f"{PAPER_BASE}/{name}"
        token = read_secret(f"CERBERO_BITE_MCP_{name.upper()}_TOKEN", env)
        found[name] = Endpoint(name, url, token, service.timeout_s)
    return found


@dataclass
class Clients:
    """Every client of one run, sharing one ``httpx.AsyncClient``."""

    http: McpHttp
    deribit: DeribitClient
    hyperliquid: HyperliquidClient
    macro: MacroClient
    sentiment: SentimentClient
    portfolio: PortfolioClient
    telegram: TelegramClient
    paper: PaperService | None
    inner: tuple[httpx.AsyncClient, ...] = ()

    async def aclose(self) -> None:
        """Close the HTTP clients and the paper account."""
        await self.http.client.aclose()
        for client in self.inner:
            await client.aclose()
        if self.paper is not None:
            self.paper.close()


def run_sleep(clock: Clock) -> Callable[[float], Awaitable[None]]:
    """Waits on the run's clock: instant under a virtual clock."""
    return clock.sleep


def open_clients(
    cfg: StrategyConfig,
    clock: Clock,
    data_dir: Path,
    *,
    config_dir: Path | None = None,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
    telegram_url: str | None = None,
    market: MarketSource | None = None,
    notify: bool = True,
    in_process: bool = False,
    durable: bool = True,
) -> Clients:
    """Build the clients for one run (close them with ``await clients.aclose()``).

    When every service is the embedded paper exchange, the run's client has no
    network transport at all (loading the system's certificates is a tenth of a
    paper job's start); Telegram, then the one real destination, gets its own
    client when it is configured. ``in_process`` (a backtest) asks the paper exchange
    without HTTP: the clients' checks and error mapping stay, the JSON round trips go;
    ``durable`` False (a backtest's) makes the paper account a throwaway database.
    """
    env = environ
    check_paper_only_env(cfg.execution.environment, env)
    ends = endpoints(cfg, env)
    mounts: dict[str, httpx.AsyncBaseTransport] = {}
    paper: PaperService | None = None
    local: tuple[str, Local] | None = None
    on_paper = [e.base_url.startswith(PAPER_BASE) for e in ends.values()]
    if cfg.execution.environment == "paper" and any(on_paper):
        from bite.paper.series import build_market
        from bite.paper.service import PaperService
        from bite.paper.transport import PaperTransport

        market = market or build_market(cfg, config_dir or Path.cwd())
        faults = parse_faults(env.get(FAULTS_ENV), cfg.paper.faults)
        paper = PaperService(cfg, data_dir, market, faults, durable=durable)
        answering = PaperTransport(paper, clock)
        mounts[PAPER_BASE] = answering
        if in_process:
            local = (PAPER_BASE, answering.answer)
    extra_clients: list[httpx.AsyncClient] = []
    if cfg.execution.environment != "paper":
        mounts.update(_direct_mounts(cfg, clock, config_dir, env, transport, extra_clients))
    paper_only = transport is None and all(on_paper) and list(mounts) == [PAPER_BASE]
    if paper_only:
        client = httpx.AsyncClient(transport=mounts[PAPER_BASE])
    else:
        client = httpx.AsyncClient(transport=transport, mounts=mounts or None)
    sleep = run_sleep(clock)
    http = McpHttp(
        client,
        ends,
        clock,
        cfg.execution.retry_waits_s,
        sleep,
        known_secret_values(env),
        local=local,
    )
    deribit = DeribitClient(http, clock, cfg.anomaly)
    hyperliquid = HyperliquidClient(http)
    macro = MacroClient(http)
    if notify:
        telegram = TelegramClient.from_env(client, sleep, env, telegram_url or TELEGRAM_API)
    else:
        telegram = TelegramClient(client, None, None, sleep)
    if telegram.enabled and paper_only:
        network = httpx.AsyncClient()
        extra_clients.append(network)
        telegram = TelegramClient(
            network, telegram.token, telegram.chat_id, sleep, telegram.base_url
        )
    return Clients(
        http,
        deribit,
        hyperliquid,
        macro,
        SentimentClient(http),
        PortfolioClient(deribit, hyperliquid, macro),
        telegram,
        paper,
        tuple(extra_clients),
    )


def _direct_mounts(
    cfg: StrategyConfig,
    clock: Clock,
    config_dir: Path | None,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
    extra_clients: list[httpx.AsyncClient],
) -> dict[str, httpx.AsyncBaseTransport]:
    """The services reached directly at their own APIs (testnet and mainnet only)."""
    from bite.clients.direct.jsonrpc import MAINNET
    from bite.clients.direct.public_sources import (
        ECB,
        FEAR_GREED,
        HYPERLIQUID,
        PublicSourcesTransport,
    )

    mounts: dict[str, httpx.AsyncBaseTransport] = {}
    if cfg.services.deribit.transport == "direct":
        inner = httpx.AsyncClient(transport=transport)
        extra_clients.append(inner)
        mounts[direct_base("deribit")] = deribit_direct(cfg, inner, environ)
    public_direct = [
        name
        for name in SERVICE_NAMES
        if name != "deribit" and getattr(cfg.services, name).transport == "direct"
    ]
    if public_direct:
        inner_public = httpx.AsyncClient(transport=transport)
        extra_clients.append(inner_public)
        calendar = cfg.services.macro.calendar_file
        sources = PublicSourcesTransport(
            inner_public,
            clock,
            hyperliquid_url=cfg.services.hyperliquid.url or HYPERLIQUID,
            ecb_url=cfg.services.macro.url or ECB,
            fear_greed_url=cfg.services.sentiment.url or FEAR_GREED,
            deribit_public_url=cfg.services.deribit.public_url or MAINNET,
            user_address=cfg.services.hyperliquid.user_address,
            calendar_file=(config_dir or Path.cwd()) / calendar if calendar else None,
        )
        for name in public_direct:
            mounts[direct_base(name)] = sources
    return mounts


def deribit_direct(
    cfg: StrategyConfig, inner: httpx.AsyncClient, environ: Mapping[str, str]
) -> DeribitDirectTransport:
    """Deribit's own API for the configured environment (the direct transport)."""
    from bite.clients.direct.deribit_rpc import DeribitDirectTransport
    from bite.clients.direct.jsonrpc import MAINNET, TESTNET, DeribitRpc

    service = cfg.services.deribit
    default = TESTNET if cfg.execution.environment == "testnet" else MAINNET
    trade_url = service.url or default
    elsewhere = cfg.deribit_public_data == "mainnet" and cfg.execution.environment == "testnet"
    public_url = (service.public_url or MAINNET) if elsewhere else trade_url
    rpc = DeribitRpc(
        inner,
        trade_url,
        public_url,
        read_secret("CERBERO_BITE_DERIBIT_CLIENT_ID", environ),
        read_secret("CERBERO_BITE_DERIBIT_CLIENT_SECRET", environ),
        service.timeout_s,
    )
    return DeribitDirectTransport(rpc, public_data_elsewhere=elsewhere)
