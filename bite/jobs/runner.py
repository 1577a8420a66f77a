"""Run one job: lock, boot, environment check, recovery, cycle; map every failure to its exit.

Exit codes (docs/operations.md 2): 0 done, 1 a bug (trading jobs also arm the switch),
2 configuration or credentials, 3 lock busy, 4 integrity, 75 the broker failed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bite.clock import Clock
from bite.errors import (
    ExitCode,
    IntegrityError,
    IoFailureError,
    McpAuthError,
    McpError,
    McpProtocolError,
    as_bite_error,
)
from bite.jobs.boot import Run, boot, check_environment, close_run
from bite.jobs.recovery import recover
from bite.safety.config_approval import Job
from bite.safety.lock import JobLock

log = logging.getLogger("bite.runner")


@dataclass
class JobResult:
    """The job's closing report: its JSON object and exit code."""

    job: str
    status: str
    exit_code: int
    reasons: list[str]
    started_at: datetime
    finished_at: datetime
    dry_run: bool
    config_approved: bool | None
    environment: str | None
    details: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The one JSON object of ``--json`` (docs/operations.md 2)."""
        return {
            "job": self.job,
            "status": self.status,
            "reasons": self.reasons,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "dry_run": self.dry_run,
            "config_approved": self.config_approved,
            "environment": self.environment,
            "exit_code": self.exit_code,
            **self.details,
            **({"message": self.message} if self.message else {}),
        }


Cycle = Callable[[Run], Awaitable[tuple[str, list[str], dict[str, Any]]]]


class Outcome(Protocol):
    """What a trading cycle decided: ``EntryOutcome``, ``MonitorOutcome``."""

    @property
    def status(self) -> str: ...

    @property
    def reasons(self) -> list[str]: ...

    def to_json(self) -> dict[str, Any]: ...


def cycle_of(step: Callable[[Run], Awaitable[Outcome]]) -> Cycle:
    """A trading cycle as the runner calls it: status, reasons and the report's fields."""

    async def cycle(run: Run) -> tuple[str, list[str], dict[str, Any]]:
        outcome = await step(run)
        return outcome.status, outcome.reasons, outcome.to_json()

    return cycle


async def execute(
    job: str,
    approval_job: Job,
    cycle: Cycle,
    *,
    config_path: Path,
    data_dir: Path,
    clock: Clock,
    dry_run: bool,
    lock_timeout_s: float,
    trading: bool,
    environ: Mapping[str, str],
    watchdog: bool = False,
    recovery: Callable[[Run], Awaitable[dict[str, Any]]] | None = None,
) -> JobResult:
    """Everything around one cycle.

    ``watchdog`` (health-run): the config may be one never approved, the venue is
    not checked before the cycle (the cycle reports it), no ``ENGINE_START``.
    """
    started = clock.now()

    def result(
        status: str,
        code: int,
        reasons: list[str],
        run: Run | None,
        details: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> JobResult:
        return JobResult(
            job,
            status,
            code,
            reasons,
            started,
            clock.now(),
            dry_run,
            run.choice.approved if run else None,
            run.environment if run else None,
            details or {},
            message,
        )

    with JobLock(data_dir, lock_timeout_s, owner=job):
        run = await boot(
            job,
            approval_job,
            config_path,
            data_dir,
            clock,
            dry_run=dry_run,
            environ=environ,
            watchdog=watchdog,
        )
        status, code, message = "error", int(ExitCode.INTERNAL), None
        reasons: list[str] = []
        details: dict[str, Any] = {}
        try:
            if not watchdog:
                await check_environment(run)
            recovered = await recovery(run) if recovery is not None else None
            status, reasons, details = await cycle(run)
            if recovered:
                details["recovery"] = recovered
            code = int(ExitCode.OK)
        except Exception as exc:
            code, message, reasons = await _failed(run, exc, trading=trading)
        finally:
            calls = run.clients.http.stats()
            details["service_calls"] = {"total": calls.total, "by_tool": calls.counts}
            await close_run(
                run,
                status=status,
                exit_code=code,
                reasons=reasons,
                details={"status": status, "service_calls": calls.total},
            )
        return result(status, code, reasons, run, details, message)


def _reason(exc: BaseException) -> str | None:
    if isinstance(exc, McpAuthError):
        return "credentials_refused"
    if isinstance(exc, McpProtocolError):
        return "protocol_mismatch"
    if isinstance(exc, McpError) and exc.code == "venue_locked":
        return "venue_locked"
    if isinstance(exc, McpError) and exc.venue_paused:
        return "venue_paused"
    if isinstance(exc, McpError):
        return "broker_unavailable"
    if isinstance(exc, IoFailureError):
        return "io_failure"
    if isinstance(exc, IntegrityError):
        return "integrity"
    return None


async def _failed(run: Run, exc: Exception, *, trading: bool) -> tuple[int, str, list[str]]:
    """A cycle that raised: its exit code, its message, its reasons; alerts sent.

    Whatever the failure, an order this run sent is cancelled and reconciled
    before the job exits, or the kill switch is armed with what the broker holds:
    a job never claims that nothing was sent when something was.
    """
    known = as_bite_error(exc)
    sent = await _settle_sent(run, exc) if run.sent_labels and not run.dry_run else None
    aftermath = sent if sent is not None else "nothing sent"
    if known is None:
        log.exception("internal error in %s", run.job)
        message = f"internal error ({type(exc).__name__}); see the log; {aftermath}"
        if trading and not run.dry_run:
            run.state.kill_switch.arm("internal_error", "integrity", run.job, run.clock.now())
        await run.alerts.emit("CRITICAL", run.job, "internal_error", message)
        return int(ExitCode.INTERNAL), message, ["error"]
    reason = _reason(known)
    if isinstance(known, IntegrityError) and trading and not run.dry_run:
        try:  # the state cannot be trusted: stop trading (a damaged database may refuse)
            switch = run.state.kill_switch.status()
            if not (switch.armed and switch.kind == "integrity"):
                run.state.kill_switch.arm("integrity_error", "integrity", run.job, run.clock.now())
        except Exception:
            log.exception("the kill switch could not be armed after %s", type(known).__name__)
    if isinstance(known, McpError):
        message = f"{known}; {aftermath}"
        key = "auth" if reason == "credentials_refused" else type(known).__name__
        await run.alerts.emit("HIGH", known.service, key, f"cycle skipped: {message}")
    else:
        message = str(known) if sent is None else f"{known}; {sent}"
    return int(known.exit_code), message, [reason] if reason else []


async def _settle_sent(run: Run, cause: Exception) -> str:
    """Cancel and reconcile the orders this run sent; if that fails too, arm the switch."""
    labels = ", ".join(run.sent_labels)
    try:
        report = await recover(run)
    except Exception as exc:  # the broker is still failing: say what SQLite knows it holds
        known = []
        for label in run.sent_labels:
            row = run.state.repo.order_by_label(label)
            if row is not None:
                known.append(
                    f"{label} (order {row.broker_order_id or 'id unknown'}: "
                    f"{row.state}, {row.filled_amount} of {row.amount} filled when last read)"
                )
        held = "; ".join(known) or labels
        message = (
            f"sent {held}; cancelling and reconciling failed ({type(exc).__name__}: {exc}); "
            "kill switch armed: the next run's recovery settles it"
        )
        run.state.kill_switch.arm("orders_unsettled", "operational", run.job, run.clock.now())
        await run.alerts.emit("CRITICAL", run.job, "orders_unsettled", message)
        return message
    done = ", ".join(str(a.get("action")) for a in report.actions) or "nothing to change"
    return f"sent {labels}: cancelled and reconciled after {type(cause).__name__} ({done})"


async def recovery_step(run: Run) -> dict[str, Any]:
    """Boot step 7: recovery, with its report (only a report in a dry run)."""
    report = await recover(run)
    return (
        {"actions": report.actions, "inconsistencies": report.inconsistencies}
        if report.changed or report.inconsistencies
        else {}
    )
