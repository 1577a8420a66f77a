"""The boot of a job (docs/operations.md 1) and the run it builds.

Order: the job lock; the config file read (an error kept, not yet fatal);
SQLite opened and migrated; the audit anchor checked; the config chosen
(entry needs it approved); the broker's environment checked against that
config before any private call; then the job's recovery and cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bite.clock import Clock
from bite.config.loader import LoadedConfig
from bite.config.schema import StrategyConfig
from bite.config.secrets import known_secret_values
from bite.context import (
    Clients,
    StateContext,
    crash_checkpoint,
    open_clients,
    open_state,
    try_load_config,
)
from bite.errors import ConfigError, IntegrityError, McpUnavailableError, UsageError
from bite.jobs.alerts import Alerts
from bite.safety.audit_log import BootResult
from bite.safety.config_approval import ConfigChoice, Job, choose_config
from bite.safety.key_scope import wide_rights
from bite.safety.kill_switch import audit_boot_check

if TYPE_CHECKING:  # a type only: the jobs never import the paper exchange
    from bite.paper.market import MarketSource

log = logging.getLogger("bite.boot")


class EnvironmentMismatchError(IntegrityError):
    """The broker is in another environment than the config says."""


@dataclass
class Run:
    """Everything one job run works with."""

    job: str
    cfg: StrategyConfig
    choice: ConfigChoice
    clock: Clock
    state: StateContext
    clients: Clients
    alerts: Alerts
    data_dir: Path
    dry_run: bool
    audit_boot: BootResult
    run_id: int | None
    sent_labels: list[str] = field(default_factory=list)  # orders this run may have at the broker
    checkpoint: Callable[[str], None] = field(default=lambda name: None)  # paper's crash seam
    hedge_settled: bool = False  # every hedge order is settled (this run reconciled them)

    @property
    def environment(self) -> str:
        """The configured environment."""
        return self.cfg.execution.environment


async def boot(
    job: str,
    approval_job: Job,
    config_path: Path,
    data_dir: Path,
    clock: Clock,
    *,
    dry_run: bool,
    environ: Mapping[str, str],
    market: MarketSource | None = None,  # the backtest's history, for the paper exchange
    notify: bool = True,
    watchdog: bool = False,
    in_process: bool = False,  # a backtest: the paper exchange asked without HTTP
) -> Run:
    """Steps 2-6 of the boot (the caller holds the lock); raise on what ends the run.

    A ``watchdog`` run (health-run) takes a valid config file that was never
    approved rather than none (its cycle then does nothing that trades), and
    records no ``ENGINE_START``.
    """
    env = environ
    loaded: LoadedConfig | ConfigError = try_load_config(config_path)
    # a backtest (the one run given a market) throws its state away: no fsync of its log
    state = open_state(data_dir, secrets=known_secret_values(env), durable=market is None)
    try:
        now = clock.now()
        audit_result = audit_boot_check(
            state.audit, state.kill_switch, now, source=job, dry_run=dry_run
        )
        choice = _choose(approval_job, loaded, state, now, dry_run=dry_run, watchdog=watchdog)
        cfg = choice.config
        checkpoint = crash_checkpoint(cfg.execution.environment, env)
        clients = open_clients(
            cfg,
            clock,
            data_dir,
            config_dir=config_path.parent,
            environ=env,
            market=market,
            notify=notify,
            in_process=in_process,
            durable=market is None,
        )
    except BaseException:
        state.close()
        raise
    alerts = Alerts(
        state.repo, state.audit, clients.telegram, state.kill_switch, cfg, clock, dry_run, job
    )
    run_id = state.repo.start_run(job, now, dry_run=dry_run)
    run = Run(
        job,
        cfg,
        choice,
        clock,
        state,
        clients,
        alerts,
        data_dir,
        dry_run,
        audit_result,
        run_id,
        checkpoint=checkpoint,
    )
    if not dry_run and not watchdog:
        state.audit.append(
            "ENGINE_START",
            {
                "job": job,
                "config_hash": choice.hash,
                "environment": cfg.execution.environment,
                "config_source": choice.source,
            },
            now,
        )
    for severity, message in choice.alerts:
        await alerts.emit(severity, "config", "config_choice", message)  # type: ignore[arg-type]
    if audit_result.outcome == "mismatch":
        await alerts.emit("CRITICAL", "audit", "audit_mismatch", audit_result.detail)
    return run


def _choose(
    job: Job,
    loaded: LoadedConfig | ConfigError,
    state: StateContext,
    now: datetime,
    *,
    dry_run: bool,
    watchdog: bool,
) -> ConfigChoice:
    try:
        return choose_config(job, loaded, state.repo, state.audit, now, dry_run=dry_run)
    except ConfigError:
        if watchdog and isinstance(loaded, LoadedConfig):  # nothing approved yet
            return ConfigChoice(loaded.config, loaded.hash, False, "file")
        raise


class KeyTooWideError(UsageError):
    """The API key can do more than trading needs (exit 2, naming the scope)."""


async def check_environment(run: Run) -> None:
    """Ask the broker what it is before any private call: its environment (a mismatch ends
    the run, exit 4), whether its platform is locked (nothing is sent, exit 75), the tick
    it lists for combos (it replaces ``execution.combo_tick`` for the run) and what the
    key may do (a key that can move funds is refused, exit 2)."""
    venue = await run.clients.deribit.venue()
    actual = venue.environment
    expected = run.environment
    if actual != expected:
        message = (
            f"the broker says {actual!r} but the config says {expected!r}: nothing "
            "private is called, not even a cancel"
        )
        if not run.dry_run:
            run.state.kill_switch.arm("environment_mismatch", "integrity", run.job, run.clock.now())
        await run.alerts.emit("CRITICAL", "environment", "environment_mismatch", message)
        raise EnvironmentMismatchError(message)
    if venue.locked:
        raise McpUnavailableError(
            "deribit",
            "environment",
            "public/status says the platform is locked: nothing is sent",
            code="venue_locked",
        )
    tick = await run.clients.deribit.combo_tick()
    if tick is not None and tick != run.cfg.execution.combo_tick:
        log.info(
            "the broker's combo tick %s replaces execution.combo_tick %s",
            tick,
            run.cfg.execution.combo_tick,
        )
        execution = run.cfg.execution.model_copy(update={"combo_tick": tick})
        run.cfg = run.cfg.model_copy(update={"execution": execution})
    wide = wide_rights(await run.clients.deribit.key_scope() or "")
    if wide and not run.cfg.execution.allow_wide_key_scope:
        raise KeyTooWideError(
            f"the Deribit API key may do more than trading needs ({' '.join(wide)}): create "
            "one with wallet:none and an IP restriction (docs/runbook.md), or set "
            "execution.allow_wide_key_scope: true"
        )


async def close_run(
    run: Run,
    *,
    status: str,
    exit_code: int,
    reasons: list[str],
    details: dict[str, object] | None = None,
) -> None:
    """Record the run's end and release the clients and the database."""
    try:
        if run.run_id is not None:
            run.state.repo.finish_run(
                run.run_id,
                run.clock.now(),
                status=status,
                exit_code=exit_code,
                reasons=reasons,
                details=details,
            )
    finally:
        await run.clients.aclose()
        run.state.close()
