"""``bite health-run`` (docs/operations.md 7): is the engine and its world healthy?

A **strike** is counted when the broker is unreachable or SQLite or the audit
anchor fails; ``health.strikes_to_arm`` consecutive strikes arm the kill switch
(operational). Other services down make the run ``degraded`` (MEDIUM alert).
It also flags missed jobs, sweeps stale ``bite-`` orders, warns of pin risk and
low disk, rewrites the heartbeat, and writes Prometheus metrics when asked.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bite.clock import Clock, iso_z
from bite.config.schema import SERVICE_NAMES, StrategyConfig
from bite.context import (
    Clients,
    StateContext,
)
from bite.core import labels
from bite.errors import McpError
from bite.jobs.alerts import Alerts
from bite.jobs.boot import Run
from bite.jobs.runner import JobResult, cycle_of, execute
from bite.safety.audit_log import VERIFIED_KEY, VerifiedHead
from bite.state.db import integrity_check
from bite.state.repository import parse_iso_z

log = logging.getLogger("bite.health")
STRIKES_KEY = "health_strikes"
WITNESS_KEY = "audit_witness_at"
HEARTBEAT = "heartbeat"
JOBS = {
    "entry-run": "entry_max_gap_hours",
    "monitor-run": "monitor_max_gap_hours",
    "backup-run": "backup_max_gap_hours",
}


@dataclass
class HealthReport:
    """What one health run found."""

    status: str = "ok"
    reasons: list[str] = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)
    strikes: int = 0
    overdue: list[str] = field(default_factory=list)
    stale_orders: list[str] = field(default_factory=list)
    pin_risk: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The job-specific fields of ``--json``."""
        return {
            "services": self.services,
            "strikes": self.strikes,
            "overdue": self.overdue,
            "stale_orders": self.stale_orders,
            "pin_risk": self.pin_risk,
        }


async def _services(clients: Clients, report: HealthReport) -> tuple[bool, bool]:
    """Ping each service: (the broker answered, the venue said it is paused).

    A venue in its settlement or maintenance answers that it is: no strike (nothing is
    wrong with bite or its link), but no sweep either.
    """
    broker_ok, paused = True, False
    for name in SERVICE_NAMES:
        try:
            latency = await clients.http.health(name)
            report.services[name] = {"up": True, "latency_ms": round(latency, 1)}
        except McpError as exc:
            report.services[name] = {"up": False, "error": exc.detail}
            if name == "deribit" and exc.venue_paused:
                paused = True
                report.services[name]["paused"] = True
            elif name == "deribit":
                broker_ok = False
    return broker_ok, paused


def _missed(state: StateContext, cfg: StrategyConfig, now: datetime) -> list[str]:
    overdue = []
    for job, key in JOBS.items():
        last = state.repo.last_success(job)
        if last is None:
            continue
        limit = timedelta(hours=getattr(cfg.schedule, key) * 1.1)
        if now - parse_iso_z(last.started_at) > limit:
            overdue.append(job)
    return overdue


def write_heartbeat(data_dir: Path, now: datetime, status: str) -> None:
    """Rewrite ``data/heartbeat`` atomically (the dead man watches its age)."""
    path = data_dir / HEARTBEAT
    tmp = data_dir / f".{HEARTBEAT}.tmp"
    tmp.write_text(f"{iso_z(now)} {status}\n", encoding="utf-8")
    os.replace(tmp, path)


def write_metrics(path: Path, state: StateContext, report: HealthReport, now: datetime) -> None:
    """Prometheus text format for node_exporter's textfile collector (written atomically)."""
    lines = [
        "# HELP bite_health_status 0 ok, 1 degraded, 2 failing",
        "# TYPE bite_health_status gauge",
        f"bite_health_status {['ok', 'degraded', 'failing'].index(report.status)}",
        "# TYPE bite_health_strikes gauge",
        f"bite_health_strikes {report.strikes}",
        "# TYPE bite_kill_switch_armed gauge",
        f"bite_kill_switch_armed {int(state.kill_switch.status().armed)}",
        "# TYPE bite_open_positions gauge",
        f"bite_open_positions {len(state.repo.positions(('open', 'closing')))}",
        "# TYPE bite_audit_length gauge",
        f"bite_audit_length {(state.repo.get_anchor() or (0, ''))[0]}",
        "# TYPE bite_service_up gauge",
        "# TYPE bite_service_latency_ms gauge",
        "# TYPE bite_job_last_success_timestamp_seconds gauge",
    ]
    for name, info in report.services.items():
        lines.append(f'bite_service_up{{service="{name}"}} {int(info["up"])}')
        if info.get("latency_ms") is not None:
            lines.append(f'bite_service_latency_ms{{service="{name}"}} {info["latency_ms"]}')
    for job in (*JOBS, "health-run"):
        last = state.repo.last_success(job)
        if last is not None:
            stamp = parse_iso_z(last.started_at).timestamp()
            lines.append(f'bite_job_last_success_timestamp_seconds{{job="{job}"}} {stamp:.0f}')
    lines.append(f"bite_health_run_timestamp_seconds {now.timestamp():.0f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


async def run_health(
    config_path: Path,
    data_dir: Path,
    clock: Clock,
    lock_timeout_s: float,
    environ: Mapping[str, str],
) -> JobResult:
    """The whole health run, through the same lock, boot and run record as every job.

    It differs where a watchdog must: it runs on a config that was never approved
    (without the sweep), it does not stop at the venue check (a broker that is down
    is what it reports), and it writes no ``ENGINE_START`` every few minutes.
    """
    return await execute(
        "health-run",
        "health",
        cycle_of(health_cycle),
        config_path=config_path,
        data_dir=data_dir,
        clock=clock,
        dry_run=False,
        lock_timeout_s=lock_timeout_s,
        trading=False,
        environ=environ,
        watchdog=True,
    )


async def health_cycle(run: Run) -> HealthReport:
    """The checks, in order: the state, the services, the sweep, the schedule, the disk."""
    report = HealthReport()
    strike_reasons = await _check_state(run)
    await _witness(run.state, run.clients, run.clock.now())
    broker_ok, paused = await _services(run.clients, report)
    if not broker_ok:
        strike_reasons.append("broker")
    if paused:
        report.reasons.append("venue_paused")
    down = await _report_services(run, report)
    if run.choice.approved and broker_ok and not paused and await _environment_matches(run):
        await _sweep_stale_orders(run.clients, run.cfg, run.clock.now(), report, run.alerts)
        await _pin_risk(run.clients, run.state, run.clock.now(), report, run.alerts)
    await _check_schedule_and_disk(run, report)
    await _count_strikes(run, report, strike_reasons)
    if not strike_reasons and (down or report.overdue):
        report.status = "degraded"
        report.reasons += [f"down:{n}" for n in down] + [f"missed:{j}" for j in report.overdue]
    write_heartbeat(run.data_dir, run.clock.now(), report.status)
    if run.cfg.metrics.textfile_path:
        write_metrics(Path(run.cfg.metrics.textfile_path), run.state, report, run.clock.now())
    return report


async def _check_state(run: Run) -> list[str]:
    """SQLite's integrity, the audit anchor (checked at boot) and the lines appended since
    the last full walk; a broken chain arms the kill switch. The strikes found."""
    strikes: list[str] = []
    try:
        if integrity_check(run.state.repo.conn) != "ok":
            strikes.append("sqlite")
    except Exception:  # a database that cannot even be checked is a strike
        strikes.append("sqlite")
    if run.audit_boot.outcome == "mismatch":
        strikes.append("audit_anchor")
    problem = _check_appended_lines(run.state)
    if problem is not None:
        strikes.append("audit_chain")
        run.state.kill_switch.arm("audit_chain_broken", "integrity", run.job, run.clock.now())
        await run.alerts.emit(
            "CRITICAL",
            "audit",
            "audit_chain_broken",
            f"audit lines appended since the last full walk do not chain: {problem}",
            integrity=True,
        )
    return strikes


async def _report_services(run: Run, report: HealthReport) -> list[str]:
    """A MEDIUM alert for each service down (the broker only when it is paused: a broker
    that fails is a strike instead), a recovery message for each one back. The down ones."""
    down = [
        n
        for n, info in report.services.items()
        if not info["up"] and (n != "deribit" or info.get("paused"))
    ]
    for name in down:
        await run.alerts.emit("MEDIUM", name, "service_down", f"{name} is unreachable")
    for name, info in report.services.items():
        if info["up"]:
            await run.alerts.resolve(name, "service_down", f"{name} is reachable again")
    return down


async def _environment_matches(run: Run) -> bool:
    """The broker is in the configured environment; if not, arm the switch (integrity)."""
    actual = await run.clients.deribit.environment()
    if actual == run.environment:
        return True
    run.state.kill_switch.arm("environment_mismatch", "integrity", run.job, run.clock.now())
    await run.alerts.emit(
        "CRITICAL",
        "environment",
        "environment_mismatch",
        f"broker is {actual}, config says {run.environment}: sweep skipped",
    )
    return False


async def _check_schedule_and_disk(run: Run, report: HealthReport) -> None:
    """A job that has not succeeded within its gap, a hedge left outside its band for more
    than one run, and a data dir running out of disk."""
    report.overdue = _missed(run.state, run.cfg, run.clock.now())
    for job in report.overdue:
        await run.alerts.emit(
            "MEDIUM",
            "schedule",
            f"missed:{job}",
            f"{job} has not succeeded within its scheduled gap",
        )
    hedge = run.state.repo.get_state("hedge") if run.cfg.hedge.mode != "none" else None
    if hedge and int(hedge.get("outside_runs", 0)) > 1:  # more than one run: say so
        await run.alerts.emit(
            "HIGH",
            "hedge",
            "hedge_band",
            f"the hedge is outside its band for {hedge['outside_runs']} runs: short "
            f"{hedge['short_usd']} USD against a target of {hedge['target_usd']} "
            f"({hedge.get('refused') or hedge['status']})",
        )
        report.reasons.append("hedge_outside_band")
    free_mb = shutil.disk_usage(run.data_dir).free / 2**20
    if free_mb < run.cfg.health.min_free_disk_mb:
        await run.alerts.emit(
            "MEDIUM", "disk", "low_disk", f"{free_mb:.0f} MB free in {run.data_dir}"
        )
        report.reasons.append("low_disk")


async def _count_strikes(run: Run, report: HealthReport, reasons: list[str]) -> None:
    """Consecutive failing runs; ``strikes_to_arm`` of them arm the switch (operational)."""
    strikes = int(run.state.repo.get_state(STRIKES_KEY) or 0)
    strikes = strikes + 1 if reasons else 0
    run.state.repo.set_state(STRIKES_KEY, strikes, run.clock.now())
    report.strikes = strikes
    if not reasons:
        await run.alerts.resolve("health", "strike", "health checks pass again")
        return
    report.status = "failing"
    report.reasons += [f"strike:{r}" for r in reasons]
    await run.alerts.emit(
        "HIGH",
        "health",
        "strike",
        f"health strike {strikes}/{run.cfg.health.strikes_to_arm}: {', '.join(reasons)}",
    )
    if strikes >= run.cfg.health.strikes_to_arm:
        run.state.kill_switch.arm("health_strikes", "operational", run.job, run.clock.now())


def _check_appended_lines(state: StateContext) -> str | None:
    """The lines appended since backup-run's last full walk chain onto it (O(new lines))."""
    head = VerifiedHead.from_dict(state.repo.get_state(VERIFIED_KEY))
    if head is None:
        return None  # no full walk yet: the boot check's O(1) tail check stands alone
    return state.audit.check_since(head)


async def _witness(state: StateContext, clients: Clients, now: datetime) -> None:
    """Once a day, the chain's head to Telegram: a witness outside this machine.

    ``bite audit verify --witness SEQ:HASH`` then proves the log was not rewritten
    together with its anchor. Logged only, when Telegram is off; when Telegram is on
    and the notice did not go, the next run tries again.
    """
    last = state.repo.get_state(WITNESS_KEY)
    if last is not None and now - parse_iso_z(str(last)) < timedelta(days=1):
        return
    anchor = state.repo.get_anchor()
    if anchor is None:
        return
    seq, digest = anchor
    text = (
        f"Cerbero Bite audit witness: seq {seq} hash {digest} at {iso_z(now)}. "
        f"Keep it: `bite audit verify --witness {seq}:{digest}` proves the log since."
    )
    sent = await clients.telegram.send_text(text)
    outcome = "sent" if sent.sent else f"not sent: {sent.reason}"
    if not clients.telegram.enabled:
        outcome = "Telegram off"
    log.warning("audit witness %s:%s (%s)", seq, digest, outcome)
    if sent.sent or not clients.telegram.enabled:
        state.repo.set_state(WITNESS_KEY, iso_z(now), now)
    # Telegram on but the notice lost: the next health-run sends it again


async def _sweep_stale_orders(
    clients: Clients, cfg: StrategyConfig, now: datetime, report: HealthReport, alerts: Alerts
) -> None:
    """Cancel ``bite-`` orders working longer than ``fill_timeout_s`` + 60 s (we hold the lock)."""
    limit = timedelta(seconds=cfg.execution.fill_timeout_s + 60)
    for order in await clients.deribit.open_orders():
        if not labels.is_ours(order.label) or order.created is None:
            continue
        if now - order.created > limit:
            final = await clients.deribit.cancel_order(order.order_id)
            report.stale_orders.append(order.label)
            await alerts.emit(
                "HIGH",
                "health",
                f"stale_order:{order.label}",
                f"cancelled stale order {order.label} (filled "
                f"{final.filled_amount}); recovery books it on the next run",
            )


async def _pin_risk(
    clients: Clients, state: StateContext, now: datetime, report: HealthReport, alerts: Alerts
) -> None:
    """A position open at DTE < 1 with spot within 2 % of its short strike: CRITICAL."""
    rows = [
        r
        for r in state.repo.positions(("open", "closing"))
        if (parse_iso_z(r.expiry) - now) < timedelta(days=1)
    ]
    if not rows:
        return
    spot, _ = await clients.deribit.index_price()
    for row in rows:
        if abs(spot / row.short_strike - 1) <= 0.02:
            report.pin_risk.append(row.id)
            await alerts.emit(
                "CRITICAL",
                "health",
                f"pin_risk:{row.id}",
                f"position {row.id} expires within a day with spot {spot} near "
                f"its short strike {row.short_strike}: the exits should have "
                "closed it",
            )
