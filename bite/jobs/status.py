"""What ``bite status``, ``bite positions`` and ``bite orders`` show (read-only, no lock)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bite.context import StateContext
from bite.errors import BiteError, ExitCode
from bite.jobs.health import HEARTBEAT
from bite.jobs.hedge import STATE_KEY as HEDGE_KEY
from bite.state.repository import parse_iso_z

JOBS = ("entry-run", "monitor-run", "health-run", "backup-run", "recover")


def engine(state: StateContext, now: datetime, environment: str | None) -> dict[str, Any]:
    """Environment, kill switch, approval, heartbeat, strikes."""
    last = state.repo.last_approved_config()
    heartbeat = state.data_dir / HEARTBEAT
    age = None
    if heartbeat.exists():
        try:
            written = parse_iso_z(heartbeat.read_text(encoding="utf-8").split()[0]).timestamp()
        except (IndexError, BiteError):
            written = heartbeat.stat().st_mtime
        age = (now.timestamp() - written) / 60
    return {
        "environment": environment,
        "kill_switch": state.kill_switch.status().to_dict(),
        "approved_config_hash": last.hash if last else None,
        "approved_at": last.approved_at if last else None,
        "heartbeat_age_minutes": round(age, 1) if age is not None else None,
        "health_strikes": int(state.repo.get_state("health_strikes") or 0),
    }


def last_runs(state: StateContext) -> list[dict[str, Any]]:
    """The last run of each job with its outcome."""
    return [run for job in JOBS if (run := state.repo.last_run(job)) is not None]


def positions(state: StateContext, now: datetime, *, include_closed: bool) -> list[dict[str, Any]]:
    """Positions with their numbers and greeks (scaled to what is held)."""
    statuses = None if include_closed else ("proposed", "awaiting_fill", "open", "closing")
    out = []
    for row in state.repo.positions(statuses):
        proposal = state.repo.proposal_of(row.id)
        greeks = proposal.get("greeks", {})
        scale = row.contracts / max(row.contracts_proposed, 1)
        out.append(
            {
                "id": row.id,
                "status": row.status,
                "spread_type": row.spread_type,
                "short": row.short_instrument,
                "long": row.long_instrument,
                "contracts": row.contracts,
                "credit_eth": str(row.entry_credit_eth or ""),
                "max_loss_usd": str(row.max_loss_usd),
                "breakeven_usd": str(row.breakeven_usd) if row.breakeven_usd else None,
                "exit_pending": row.exit_pending_rule,
                "exit_pending_since": row.exit_pending_since,
                "dte": round((parse_iso_z(row.expiry) - now).total_seconds() / 86400, 2),
                "delta": round(greeks.get("delta", 0) * scale, 4),
                "vega": round(greeks.get("vega", 0) * scale, 2),
                "theta": round(greeks.get("theta", 0) * scale, 2),
                "realized_pnl_eur": str(row.realized_pnl_eur),
                "r": row.r_multiple,
                "close_reason": row.close_reason,
                "opened_at": row.opened_at,
                "closed_at": row.closed_at,
                "last_evaluation": _evaluation(state, row.id, now),
            }
        )
    return out


def _evaluation(state: StateContext, position_id: str, now: datetime) -> dict[str, Any] | None:
    """monitor-run's last evaluation of the position, with its age (no broker asked)."""
    found = state.repo.last_evaluation(position_id)
    if found is None:
        return None
    at, action, numbers = found
    age = (now - parse_iso_z(at)).total_seconds() / 60
    return {"at": at, "age_minutes": round(age, 1), "action": action, **numbers}


def orders(state: StateContext, proposal: str | None) -> list[dict[str, Any]]:
    """Every order row (of one proposal when given)."""
    return [
        {
            "label": o.label,
            "kind": o.kind,
            "attempt": o.attempt,
            "side": o.side,
            "amount": o.amount,
            "price": str(o.price),
            "state": o.state,
            "filled": o.filled_amount,
            "average_price": str(o.average_price or ""),
            "broker_order_id": o.broker_order_id,
            "reject_reason": o.reject_reason,
        }
        for o in state.repo.orders(proposal)
    ]


def recent_alerts(state: StateContext, count: int = 10) -> list[dict[str, Any]]:
    """The latest alerts."""
    return state.repo.recent_alerts(count)


def kelly(state: StateContext) -> dict[str, Any] | None:
    """The latest persisted Kelly estimate."""
    return state.repo.latest_kelly_estimate()


def hedge(state: StateContext) -> dict[str, Any] | None:
    """The hedge as its last step left it (size, target, drift, band, funding) and its fees."""
    view = state.repo.get_state(HEDGE_KEY)
    if view is None:
        return None
    return {**view, "fees_eth": str(state.repo.hedge_fees_eth())}


def check(engine_view: dict[str, Any], max_age_minutes: float) -> tuple[int, str]:
    """``bite status --check``: is the bot alive and trusting itself? (exit code, one line)

    Healthy (0) when health-run rewrote the heartbeat within ``max_age_minutes`` and the
    kill switch is not armed for integrity; 4 when it is (a person must look), 5 when
    the heartbeat is missing or stale (the jobs are not running). An operational arming
    is healthy here: the bot is running and says why it takes no new risk.
    """
    switch = engine_view["kill_switch"]
    if switch["armed"] and switch["kind"] == "integrity":
        reasons = "; ".join(switch["reasons"]) or "no reason recorded"
        return int(ExitCode.INTEGRITY), f"kill switch armed for integrity: {reasons}"
    age = engine_view["heartbeat_age_minutes"]
    if age is None:
        return int(ExitCode.UNHEALTHY), "no heartbeat: health-run has not run here"
    if age > max_age_minutes:
        return (
            int(ExitCode.UNHEALTHY),
            f"heartbeat {age} minutes old (more than {max_age_minutes:g})",
        )
    armed = " (kill switch armed: operational)" if switch["armed"] else ""
    return int(ExitCode.OK), f"ok: heartbeat {age} minutes old{armed}"
