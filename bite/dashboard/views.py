"""What each page of the dashboard shows, as plain data: read from the data dir only.

Every function here reads a :class:`bite.context.StateContext` opened read-only
(``open_state_readonly``), the audit log, the backups folder, a config file or a
backtest's output folder; none calls a broker or takes the job lock. The page code
(``bite/dashboard/app.py``) only draws what these return.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bite.config.loader import load_config
from bite.context import StateContext
from bite.core.payoff import short_strike_distance_pct, spread_pnl_eth
from bite.core.types import SpreadType
from bite.dashboard.schedule import next_runs
from bite.errors import BiteError, UsageError
from bite.jobs import status
from bite.jobs.backup import BACKUP_DIR
from bite.state.repository import parse_iso_z

CRONTAB_ENV = "CERBERO_BITE_DASHBOARD_CRONTAB"  # set by bite dashboard for its server
PAGES = ("Now", "Position", "History", "Safety", "Backtest")
OPEN = ("proposed", "awaiting_fill", "open", "closing")
PAYOFF_POINTS = 121


@dataclass(frozen=True)
class Settings:
    """Where the dashboard reads from, and its password (None on loopback without one)."""

    data_dir: Path
    config_path: Path
    crontab: Path
    password: str | None = field(default=None, repr=False)  # a secret: never in a repr
    now: datetime | None = None  # a fixed instant (paper and tests); else the wall clock
    secrets: tuple[str, ...] = field(default=(), repr=False)  # kept out of the audit log


def _age_minutes(at: str | None, now: datetime) -> float | None:
    if not at:
        return None
    try:
        return round((now - parse_iso_z(at)).total_seconds() / 60, 1)
    except BiteError:
        return None


def config_view(settings: Settings, state: StateContext | None) -> dict[str, Any]:
    """The approved config's hash, and whether ``strategy.yaml`` on disk is that config."""
    approved = state.repo.last_approved_config() if state is not None else None
    out: dict[str, Any] = {
        "file": str(settings.config_path),
        "approved_hash": approved.hash if approved else None,
        "approved_at": approved.approved_at if approved else None,
    }
    try:
        loaded = load_config(settings.config_path)
    except BiteError as exc:
        return {**out, "valid": False, "error": str(exc), "differs": True, "environment": None}
    return {
        **out,
        "valid": True,
        "file_hash": loaded.hash,
        "differs": approved is None or approved.hash != loaded.hash,
        "environment": loaded.config.execution.environment,
    }


def now_view(settings: Settings, state: StateContext, now: datetime) -> dict[str, Any]:
    """The *Now* page: positions in a line, engine, config, last runs, next runs."""
    config = config_view(settings, state)
    engine = status.engine(state, now, config["environment"])
    lines = []
    for p in status.positions(state, now, include_closed=False):
        evaluation = p["last_evaluation"] or {}
        pnl = _pnl_eth(p, evaluation)
        lines.append(
            {
                "id": p["id"],
                "status": p["status"],
                "spread": p["spread_type"],
                "legs": f"-{p['short']} / +{p['long']}",
                "contracts": p["contracts"],
                "pnl_eth": _fmt(pnl, "0.0001") if pnl is not None else "",
                "evaluated": _evaluated(evaluation),
            }
        )
    runs = [
        {
            "job": run["job"],
            "started": run["started_at"][:16].replace("T", " ") + " UTC",
            "ago": _ago(_age_minutes(run["started_at"], now)),
            "status": run["status"] or "running or cut short",
            "exit code": run["exit_code"],
            "dry run": "yes" if run["dry_run"] else "",
            "reasons": ", ".join(map(str, run["reasons"])),
        }
        for run in status.last_runs(state)
    ]
    schedule: list[dict[str, Any]] = []
    if settings.crontab.is_file():
        schedule = [
            {"job": job, "next": at.strftime("%Y-%m-%d %H:%M UTC") if at else "not within 8 days"}
            for job, at in next_runs(settings.crontab, now)
        ]
    return {
        "engine": engine,
        "config": config,
        "hedge": status.hedge(state),
        "positions": lines,
        "runs": runs,
        "schedule": schedule,
        "crontab": str(settings.crontab),
    }


def _ago(minutes: float | None) -> str:
    if minutes is None:
        return ""
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def _evaluated(evaluation: dict[str, Any]) -> str:
    if not evaluation:
        return "not yet evaluated by monitor-run"
    return f"{evaluation['action']} {evaluation['age_minutes']:g} min ago"


def _pnl_eth(position: dict[str, Any], evaluation: dict[str, Any]) -> Decimal | None:
    """Open P&L at the last evaluation's mid: (credit - debit) x contracts."""
    if not evaluation.get("debit_mid") or not position["credit_eth"]:
        return None
    credit = Decimal(position["credit_eth"])
    return (credit - Decimal(evaluation["debit_mid"])) * int(position["contracts"])


def _fmt(value: Decimal | float, quantum: str) -> str:
    return str(Decimal(str(value)).quantize(Decimal(quantum)))


def _spread(row: Any) -> SpreadType:
    return "bear_call" if row.spread_type == "bear_call" else "bull_put"


def position_views(state: StateContext, cfg_exit: Any, now: datetime) -> list[dict[str, Any]]:
    """The *Position* page: each open spread with its numbers, payoff and exit rules."""
    out = []
    rows = {r.id: r for r in state.repo.positions(OPEN)}
    for p in status.positions(state, now, include_closed=False):
        row = rows[p["id"]]
        proposal = state.repo.proposal_of(row.id)
        evaluation = p["last_evaluation"] or {}
        eur_usd = Decimal(str(proposal.get("eur_usd") or "0"))
        spot = Decimal(str(evaluation["spot"])) if evaluation.get("spot") else None
        credit = row.entry_credit_eth or Decimal(str(proposal.get("credit_eth") or "0"))
        pnl = _pnl_eth(p, evaluation)
        view: dict[str, Any] = {
            "id": row.id,
            "status": row.status,
            "spread": row.spread_type,
            "short": row.short_instrument,
            "long": row.long_instrument,
            "short_strike": row.short_strike,
            "long_strike": row.long_strike,
            "expiry": row.expiry,
            "contracts": row.contracts,
            "credit_eth": credit,
            "debit_mid_eth": evaluation.get("debit_mid"),
            "debit_touch_eth": evaluation.get("debit_touch"),
            "pnl_eth": pnl,
            "pnl_eur": (pnl * spot / eur_usd) if pnl is not None and spot and eur_usd else None,
            "spot": spot,
            "breakeven": Decimal(p["breakeven_usd"]) if p["breakeven_usd"] else None,
            "distance_pct": (
                short_strike_distance_pct(_spread(row), row.short_strike, spot) if spot else None
            ),
            "greeks": {
                k: evaluation.get(f"net_{k}", p.get(k)) for k in ("delta", "gamma", "theta", "vega")
            },
            "evaluation": evaluation,
            "rules": exit_rules(evaluation, cfg_exit) if evaluation else [],
            "payoff": payoff_curve(
                _spread(row), row.short_strike, row.long_strike, credit, row.contracts, spot
            ),
        }
        out.append(view)
    return out


def exit_rules(evaluation: dict[str, Any], cfg_exit: Any) -> list[dict[str, str]]:
    """Each exit rule's current value against its threshold (docs/strategy.md 10)."""
    credit = Decimal(evaluation["credit"])
    loss = Decimal(evaluation["debit_touch"]) - credit
    rules = [
        {
            "rule": "profit target",
            "value": f"debit {evaluation['debit_mid']} ETH",
            "threshold": f"at or below {evaluation['profit_level_debit']} ETH",
        },
        {
            "rule": "stop",
            "value": f"loss {loss} ETH",
            "threshold": f"at or above {evaluation['stop_level_loss']} ETH",
        },
        {
            "rule": "short-strike breach",
            "value": f"|delta| {abs(float(evaluation['short_delta'])):.3f}",
            "threshold": f"at or above {cfg_exit.short_delta_breach:g}",
        },
        {
            "rule": "vol shock",
            "value": f"DVOL {evaluation['dvol']:g} (entry {evaluation['dvol_at_entry']:g}),"
            f" 4 h return {float(evaluation.get('return_4h_pct') or 0):+.2f} %",
            "threshold": f"DVOL +{cfg_exit.vol_shock_dvol_rise:g} with a"
            f" {cfg_exit.vol_shock_return_4h_pct:g} % move",
        },
        {
            "rule": "time",
            "value": f"{float(evaluation['hours_left']):.0f} h to expiry",
            "threshold": f"at or below {cfg_exit.time_exit_hours:g} h",
        },
    ]
    return rules


def payoff_curve(
    spread_type: SpreadType,
    short_strike: Decimal,
    long_strike: Decimal,
    credit: Decimal,
    contracts: int,
    spot: Decimal | None,
) -> list[tuple[float, float]]:
    """(settlement USD, P&L USD) at expiry over a range around the strikes and spot."""
    anchors = [short_strike, long_strike] + ([spot] if spot else [])
    low = min(anchors) * Decimal("0.8")
    high = max(anchors) * Decimal("1.2")
    step = (high - low) / (PAYOFF_POINTS - 1)
    points = []
    for i in range(PAYOFF_POINTS):
        s = low + step * i
        pnl = spread_pnl_eth(spread_type, short_strike, long_strike, credit, contracts, s)
        points.append((float(s), float(pnl * s)))
    return points


def history_view(state: StateContext) -> dict[str, Any]:
    """The *History* page: equity, cumulative P&L, closed trades, R, Kelly, skipped entries."""
    closed = state.repo.positions(("closed", "expired"))
    closed.sort(key=lambda r: r.closed_at or "")
    trades = []
    total = Decimal(0)
    for row in closed:
        total += row.realized_pnl_eur
        trades.append(
            {
                "id": row.id,
                "closed_at": row.closed_at,
                "spread": row.spread_type,
                "short": row.short_instrument,
                "contracts": row.contracts,
                "pnl_eur": str(row.realized_pnl_eur.quantize(Decimal("0.01"))),
                "r": row.r_multiple,
                "exit_rule": row.close_reason,
                "cumulative_eur": float(total),
            }
        )
    skipped: Counter[str] = Counter()
    for run in state.repo.runs("entry-run", 1000):
        if run["status"] != "entered":
            for reason in run["reasons"] or [run["status"] or "unknown"]:
                skipped[str(reason)] += 1
    return {
        "equity": [
            {"time": ts, "eth": float(eth), "eur": float(eur)}
            for ts, eth, eur, _ in state.repo.equity_history()
        ],
        "trades": trades,
        "r": [float(t["r"]) for t in trades if t["r"] is not None],
        "kelly": [
            {"time": ts, "risk_fraction": f, "drawdown_pct": dd}
            for ts, f, dd in state.repo.kelly_history()
        ],
        "skipped": sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])),
    }


def safety_view(state: StateContext, now: datetime) -> dict[str, Any]:
    """The *Safety* page: the audit chain verified now, alerts, recoveries, backups."""
    report = state.audit.verify()
    alerts = state.repo.recent_alerts(50)
    by_severity = Counter(a["severity"] for a in alerts)
    recoveries = [
        r
        for r in state.audit.tail(500)
        if str(r.get("event", "")).startswith(("RECOVERY", "AUDIT_RESET", "BACKUP_RESTORED"))
    ]
    backups_dir = state.data_dir / BACKUP_DIR
    backups = (
        sorted(backups_dir.glob("state-*.sqlite"), reverse=True) if backups_dir.exists() else []
    )
    return {
        "audit": {
            "healthy": report.healthy,
            "records": report.records,
            "head_seq": report.last_seq,
            "head_hash": report.last_hash,
            "anchor_ok": report.anchor_ok,
            "problem": report.problem,
            "first_bad_seq": report.first_bad_seq,
            "broken_logs": list(report.broken_logs),
        },
        "kill_switch": state.kill_switch.status().to_dict(),
        "alerts_by_severity": dict(by_severity),
        "alerts": alerts,
        "recoveries": [
            {"seq": r.get("seq"), "ts": r.get("ts"), "event": r.get("event")} for r in recoveries
        ],
        "backups": [
            {
                "file": b.name,
                "age_hours": round((now - _backup_time(b)).total_seconds() / 3600, 1),
                "bytes": b.stat().st_size,
            }
            for b in backups[:20]
        ],
    }


def _backup_time(path: Path) -> datetime:
    """When a backup was taken: its name's UTC time (``state-YYYYmmddTHHMMSSZ.sqlite``,
    written by the run's clock), else the file's modification time."""
    try:
        return datetime.strptime(path.stem.removeprefix("state-"), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=UTC
        )
    except ValueError:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def backtest_view(folder: Path) -> dict[str, Any]:
    """The *Backtest* page: a ``bite backtest`` output folder's summary, equity and trades."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    summary_file = folder / "summary.json"
    equity_file = folder / "equity.csv"
    if not summary_file.is_file() or not equity_file.is_file():
        raise UsageError(f"{folder}: no summary.json and equity.csv: not a bite backtest output")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    with equity_file.open(encoding="utf-8", newline="") as handle:
        equity = [
            {"time": r["time"], "eur": float(r["equity_eur"]), "eth": float(r["equity_eth"])}
            for r in csv.DictReader(handle)
        ]
    trades: list[dict[str, str]] = []
    trades_file = folder / "trades.csv"
    if trades_file.is_file():
        with trades_file.open(encoding="utf-8", newline="") as handle:
            trades = list(csv.DictReader(handle))
    return {"summary": summary, "equity": equity, "trades": trades}
