"""``bite backtest`` (docs/paper-exchange.md 5): the schedule replayed over real ETH history.

The live jobs' own cycle functions (``run_entry_cycle``, ``run_monitor_cycle``)
run on one long-lived run, against the paper exchange in its historical mode,
with a virtual clock and fresh state in a temporary data dir. Proposal ids come
from the seed and the slot, so identical inputs give byte-identical outputs.

Modelled, not real: the option chain (from DVOL, with the paper smile and
spreads), the path within each day (a seeded bridge between real closes), and,
unless files are given, funding (0.0000125 an hour), Fear & Greed (50) and the
macro calendar (empty).
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import json
import logging
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml

from bite.backtest import stats
from bite.backtest.report import report_html
from bite.clock import VirtualClock, parse_instant
from bite.config.schema import StrategyConfig
from bite.core.types import MacroEvent
from bite.errors import McpError
from bite.jobs.boot import boot, check_environment
from bite.jobs.entry import run_entry_cycle
from bite.jobs.monitor import run_monitor_cycle
from bite.paper.market import DataFileError, HistoricalMarket, default_data_file
from bite.paper.series import available, read_bars, read_series, to_points

log = logging.getLogger("bite.backtest")
DEFAULT_EQUITY_ETH = Decimal(30)
HALTS = ("drawdown_halt", "negative_edge")
APPROXIMATIONS = (
    "real daily ETH and DVOL bars; the path within a day is seeded, through each day's real "
    "open, high, low and close",
    "the option chain is modelled from DVOL on a surface and spreads fitted to a real "
    "Deribit chain (docs/backtest.md)",
)


@dataclass(frozen=True)
class BacktestInputs:
    """What a backtest reads."""

    start: date
    end: date
    prices: Path
    dvol: Path
    eurusd: Path | None
    funding: Path | None = None
    fear_greed: Path | None = None
    calendar: Path | None = None
    starting_equity_eth: Decimal = DEFAULT_EQUITY_ETH
    fills: Literal["touch", "improve"] = "touch"
    halts: bool = True  # the halts that need a person (studies judge rules: they run without)
    hedge: Literal["none", "usd"] | None = None  # None: the config's hedge.mode
    # the paper exchange asked without HTTP and JSON; a test checks the outputs are the
    # same byte for byte with the round trips
    in_process: bool = True


@dataclass
class BacktestResult:
    """Everything the report and the files are made of."""

    trades: list[dict[str, Any]]
    equity: list[dict[str, Any]]
    skipped: Counter[str]
    exits: Counter[str]
    entries: int
    slots: int
    fractions: list[tuple[str, float]]
    halt_began: str | None
    approximations: list[str]
    errors: Counter[str] = field(default_factory=Counter)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    start: date | None = None
    end: date | None = None
    fills: str = "touch"
    halts: bool = True
    seed: int = 7
    hedge: str = "none"
    hedge_fees_eth: Decimal = Decimal(0)
    hedge_funding_eth: Decimal = Decimal(0)

    def summary(self) -> dict[str, Any]:
        """The numbers of the report (docs/backtest.md names each)."""
        pnl = [Decimal(t["pnl_eur"]) for t in self.trades]
        rs = [float(t["r"]) for t in self.trades if t["r"] != ""]
        hit, breakeven = stats.hit_rates(rs)
        ci = stats.bootstrap_mean_ci(rs, self.seed)
        cumulative = list(itertools.accumulate(float(p) for p in pnl))
        closes = [(parse_instant(t["closed"]), float(t["pnl_eur"])) for t in self.trades]
        weekly = stats.weekly_pnl(closes, self.start, self.end) if self.start and self.end else []
        total = sum(pnl, Decimal(0))
        return {
            "trades": len(self.trades),
            "wins": sum(1 for p in pnl if p > 0),
            "hit_rate": round(hit, 4) if hit is not None else None,
            "breakeven_hit_rate": round(breakeven, 4) if breakeven is not None else None,
            "expectancy_r": round(statistics.fmean(rs), 4) if rs else None,
            "expectancy_r_ci95": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
            "pnl_eur_total": str(total.quantize(Decimal("0.01"))),
            "pnl_eur_per_trade": str((total / len(pnl)).quantize(Decimal("0.01"))) if pnl else None,
            "best_r": round(max(rs), 4) if rs else None,
            "worst_r": round(min(rs), 4) if rs else None,
            "strategy_drawdown_eur": round(stats.max_drawdown([0.0, *cumulative]), 2),
            "account_drawdown_eur_pct": round(
                stats.max_drawdown_pct([float(r["equity_eur"]) for r in self.equity]), 2
            ),
            "sharpe_weekly": _rounded(stats.sharpe(weekly)),
            "sortino_weekly": _rounded(stats.sortino(weekly)),
            "time_in_market_pct": self._time_in_market(),
            "entry_slots": self.entries,
            "monitor_slots": self.slots - self.entries,
            "skipped_entries": dict(sorted(self.skipped.items())),
            "exits_by_rule": dict(sorted(self.exits.items())),
            "errors": dict(sorted(self.errors.items())),
            "risk_fraction_first_last": [self.fractions[0][1], self.fractions[-1][1]]
            if self.fractions
            else None,
            "halt_began": self.halt_began,
            "fills": self.fills,
            "halts": "on" if self.halts else "off (negative_edge, drawdown_halt)",
            **self._hedge_summary(),
            "approximations": self.approximations,
        }

    def _hedge_summary(self) -> dict[str, Any]:
        """The hedge's mode; when hedged, its funding and fees and the account's drawdown
        without the hedge's P&L beside the hedged one (docs/backtest.md)."""
        if self.hedge == "none":
            return {"hedge": "none"}
        unhedged = [
            float(
                (Decimal(r["equity_eth"]) - Decimal(r["hedge_eth"]))
                * Decimal(r["spot_usd"])
                / (Decimal(r["equity_eth"]) * Decimal(r["spot_usd"]) / Decimal(r["equity_eur"]))
            )
            for r in self.equity
            if Decimal(r["equity_eth"]) > 0 and Decimal(r["equity_eur"]) > 0
        ]
        return {
            "hedge": self.hedge,
            "hedge_funding_eth": str(self.hedge_funding_eth.quantize(Decimal("0.000001"))),
            "hedge_fees_eth": str(self.hedge_fees_eth.quantize(Decimal("0.000001"))),
            "account_drawdown_eur_pct_without_hedge": round(stats.max_drawdown_pct(unhedged), 2),
        }

    def _time_in_market(self) -> float | None:
        if not self.start or not self.end:
            return None
        span = (self.end - self.start).days + 1
        held = sum(
            (parse_instant(t["closed"]) - parse_instant(t["opened"])).total_seconds() / 86400
            for t in self.trades
        )
        return round(held / span * 100, 2)


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


MONITOR_HOURS = tuple(h for h in range(24) if h != 8)  # as the crontab: not in settlement
RECORD_HOURS = (6, 18)  # an equity row at the former decision slots and at each entry


def slots(start: date, end: date) -> list[tuple[datetime, str]]:
    """Entry slots (Mondays 14:00 UTC) and the hourly monitor (every hour but 08:00), in order.

    The monitor runs the live rule: a full decision at the scheduled hours, in between
    only when woken (``core.monitor_schedule``).
    """
    out: list[tuple[datetime, str]] = []
    day = start
    while day <= end:
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for hour in MONITOR_HOURS:
            if day.weekday() == 0 and hour == 14:
                out.append((base + timedelta(hours=14), "entry"))
            out.append((base + timedelta(hours=hour), "monitor"))
        day += timedelta(days=1)
    return out


def _calendar(path: Path) -> list[MacroEvent]:
    events = []
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                when = datetime.fromisoformat(row["time"].replace("Z", "+00:00"))
                impact = row.get("impact", "high").strip()
                if impact not in ("low", "medium", "high"):
                    raise ValueError(impact)
            except (KeyError, ValueError):
                raise DataFileError(
                    f"{path}:{line}: needs time and impact (low, medium, high)"
                ) from None
            events.append(
                MacroEvent(
                    row.get("name", "event"),
                    when if when.tzinfo else when.replace(tzinfo=UTC),
                    impact,  # type: ignore[arg-type]
                    row.get("country", ""),
                )
            )
    return events


def load_market(inputs: BacktestInputs, cfg: StrategyConfig) -> HistoricalMarket:
    """The historical market over the span the run reads (warm-up included)."""
    warmup = inputs.start - timedelta(days=cfg.bias.history_days + 15)
    first, last = available(inputs.prices)
    if inputs.start < first + timedelta(days=cfg.bias.history_days + 15) or inputs.end > last:
        raise DataFileError(
            f"{inputs.prices}: prices cover {first}..{last}; a run from {inputs.start} to "
            f"{inputs.end} needs {warmup}..{inputs.end + timedelta(days=1)} (the bias reads "
            f"{cfg.bias.history_days} days before the first slot)"
        )
    span = (warmup, inputs.end + timedelta(days=1))
    prices = read_bars(inputs.prices, span=span)
    dvol_first, dvol_last = available(inputs.dvol)
    if dvol_first > warmup or dvol_last < inputs.end:
        raise DataFileError(
            f"{inputs.dvol}: DVOL covers {dvol_first}..{dvol_last}; the run "
            f"needs {warmup}..{inputs.end}"
        )
    dvol = read_bars(inputs.dvol, span=span)
    fx = (
        read_series(inputs.eurusd, span=(warmup - timedelta(days=7), span[1]), cadence="working")
        if inputs.eurusd
        else None
    )
    funding = read_series(inputs.funding, "value", span=span) if inputs.funding else None
    fear = read_series(inputs.fear_greed, "value", span=span) if inputs.fear_greed else None
    events = _calendar(inputs.calendar) if inputs.calendar else []
    return HistoricalMarket(
        prices,
        dvol,
        seed=cfg.paper.seed,
        eur_usd_daily=to_points(fx) if fx else None,
        funding_daily=to_points(funding) if funding else None,
        fear_greed_daily=to_points(fear) if fear else None,
        events=events,
    )


def backtest_config(cfg: StrategyConfig, inputs: BacktestInputs) -> StrategyConfig:
    """The config a backtest trades with: paper, instant retries, its starting equity."""
    data = cfg.model_dump(mode="json")
    data["execution"]["environment"] = "paper"
    data["execution"]["retry_waits_s"] = []
    data["paper"]["starting_equity_eth"] = str(inputs.starting_equity_eth)
    data["paper"]["auto_approve"] = True
    data["paper"]["faults"] = None
    data["paper"]["fills"] = inputs.fills
    if inputs.hedge is not None:
        data["hedge"]["mode"] = inputs.hedge
    # no Deribit funding history in the repository: the --funding series stands in for
    # the perpetual's; without a file the hedge pays and earns none
    data["paper"]["perpetual_funding"] = "market" if inputs.funding is not None else "none"
    if not inputs.halts:
        data["kelly"]["block_on_negative_edge"] = False
        data["sizing"]["drawdown_halt_pct"] = 100
        data["sizing"]["drawdown_throttle_pct"] = min(data["sizing"]["drawdown_throttle_pct"], 100)
    data["paper"]["market"] = {
        "kind": "historical",
        "prices_file": str(inputs.prices),
        "dvol_file": str(inputs.dvol),
        "script_file": None,
    }
    for service in data["services"].values():
        service["url"] = None
        service["transport"] = "mcp"
    return StrategyConfig.model_validate(data)


async def run_backtest(
    inputs: BacktestInputs, cfg: StrategyConfig, progress: Callable[[int, int], None] | None = None
) -> BacktestResult:
    """Replay the schedule; return trades, equity and the counts of the report."""
    if inputs.end < inputs.start:
        raise DataFileError("--to is before --from")
    run_cfg = backtest_config(cfg, inputs)
    market = load_market(inputs, run_cfg)
    schedule = slots(inputs.start, inputs.end)
    result = BacktestResult(
        [],
        [],
        Counter(),
        Counter(),
        0,
        len(schedule),
        [],
        None,
        list(APPROXIMATIONS),
        start=inputs.start,
        end=inputs.end,
        fills=inputs.fills,
        halts=inputs.halts,
        seed=run_cfg.paper.seed,
        hedge=run_cfg.hedge.mode,
    )
    if inputs.funding is None:
        result.approximations.append("funding held at 0.0000125 an hour (no file given)")
    if run_cfg.hedge.mode != "none":
        result.approximations.append(
            "the hedge's funding: "
            + (
                "the --funding series stands in for Deribit's perpetual funding (no such "
                "history in the repository)"
                if inputs.funding is not None
                else "none (no --funding file: the perpetual's funding is neutral)"
            )
        )
    if inputs.fear_greed is None:
        result.approximations.append("Fear & Greed held at 50 (no file given)")
    if inputs.calendar is None:
        result.approximations.append("an empty macro calendar (no file given)")
    if inputs.eurusd is None:
        result.approximations.append("EUR/USD held at 1.09 (no file given)")
    with tempfile.TemporaryDirectory(prefix="bite-backtest-") as tmp:
        data_dir = Path(tmp) / "data"
        config_path = Path(tmp) / "strategy.yaml"
        config_path.write_text(yaml.safe_dump(run_cfg.model_dump(mode="json")), encoding="utf-8")
        clock = VirtualClock(schedule[0][0])
        run = await boot(
            "backtest",
            "entry",
            config_path,
            data_dir,
            clock,
            dry_run=False,
            environ={},
            market=market,
            notify=False,
            in_process=inputs.in_process,
        )
        # what is alive now (the history, the modules, the booted run) lives to the end:
        # kept out of the collector's way, which otherwise walks it at every full pass
        gc.collect()
        gc.freeze()
        # the replay makes short-lived objects by the million and few cycles: the young
        # generation is collected a seventh as often (0.24 s in the collector became 0.20 s
        # in the hedged 2022-2024 run)
        thresholds = gc.get_threshold()
        gc.set_threshold(5000, 20, 20)
        try:
            await check_environment(run)
            for index, (slot, kind) in enumerate(schedule):
                clock.advance_to(slot)
                await _slot(run, slot, kind, result, run_cfg.paper.seed)
                if progress is not None:
                    progress(index + 1, len(schedule))
            _collect_trades(run, result)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            await run.clients.aclose()
            run.state.close()
    return result


async def _slot(run: Any, slot: datetime, kind: str, result: BacktestResult, seed: int) -> None:
    try:
        if kind == "entry":
            result.entries += 1
            outcome = await run_entry_cycle(run, proposal_id=f"bt{seed}-{slot:%Y%m%d%H}")
            if outcome.kelly is not None:
                result.fractions.append(
                    (slot.date().isoformat(), round(outcome.kelly.risk_fraction, 6))
                )
            if outcome.status not in ("entered", "entered_partial"):
                for reason in outcome.reasons or [outcome.status]:
                    result.skipped[reason] += 1
            if result.halt_began is None and any(r in HALTS for r in outcome.reasons):
                result.halt_began = slot.isoformat()
            _decided(
                result,
                slot,
                kind,
                outcome.status,
                outcome.reasons,
                outcome.numbers.get("spot"),
                outcome.numbers.get("dvol"),
            )
        else:
            monitored = await run_monitor_cycle(run)
            for position in monitored.positions:
                if position.status in ("closed", "closed_partial", "expired"):
                    result.exits[position.action or position.status] += 1
            if monitored.status not in ("not_due", "no_positions"):
                actions = [f"{p.position_id}:{p.action or p.status}" for p in monitored.positions]
                _decided(result, slot, kind, monitored.status, actions, monitored.spot, None)
    except McpError as exc:
        result.errors[f"{kind}:{type(exc).__name__}"] += 1
        log.warning("slot %s (%s) skipped: %s", slot.isoformat(), kind, exc)
        _decided(result, slot, kind, "error", [type(exc).__name__], None, None)
    if kind == "monitor" and slot.hour not in RECORD_HOURS:
        return
    summary = await run.clients.deribit.account_summary()
    spot, _ = await run.clients.deribit.index_price()
    rate = (await run.clients.macro.eur_usd()).rate
    row = {
        "time": slot.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "slot": kind,
        "equity_eth": str(summary.equity.quantize(Decimal("0.000001"))),
        "spot_usd": str(spot),
        "equity_eur": str((summary.equity * spot / rate).quantize(Decimal("0.01"))),
    }
    if result.hedge != "none":  # what the hedge added to the equity: its P&L, funding, fees
        held = await run.clients.deribit.perp_position(run.cfg.hedge.instrument)
        result.hedge_fees_eth = run.state.repo.hedge_fees_eth()
        result.hedge_funding_eth = held.realized_funding_eth
        hedge_eth = (
            held.floating_pnl_eth
            + held.realized_pnl_eth
            + held.realized_funding_eth
            - result.hedge_fees_eth
        )
        row["hedge_eth"] = str(hedge_eth.quantize(Decimal("0.000001")))
    result.equity.append(row)


def _decided(
    result: BacktestResult,
    slot: datetime,
    kind: str,
    status: str,
    reasons: list[str],
    spot: object,
    dvol: object,
) -> None:
    """A row of decisions.csv: the slot, what was decided and why, and the spot and DVOL
    the decision saw (so a change in what it saw shows in the file)."""
    result.decisions.append(
        {
            "time": slot.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "slot": kind,
            "status": status,
            "reasons": " ".join(reasons),
            "spot": "" if spot is None else str(spot),
            "dvol": "" if dvol is None else str(dvol),
        }
    )


def _collect_trades(run: Any, result: BacktestResult) -> None:
    for row in run.state.repo.positions(("closed", "expired")):
        result.trades.append(
            {
                "position": row.id,
                "opened": row.opened_at,
                "closed": row.closed_at,
                "spread": row.spread_type,
                "short": row.short_instrument,
                "long": row.long_instrument,
                "contracts": row.contracts_proposed,
                "credit_eth": str(row.entry_credit_eth or ""),
                "rule": row.close_reason or "",
                "pnl_eth": str(row.realized_pnl_eth.quantize(Decimal("0.000001"))),
                "pnl_eur": str(row.realized_pnl_eur.quantize(Decimal("0.01"))),
                "r": f"{row.r_multiple:.4f}" if row.r_multiple is not None else "",
            }
        )


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text (deterministic: the first row's keys, LF line ends)."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def equity_svg(rows: list[dict[str, Any]], title: str) -> str:
    """A self-contained SVG line chart of equity in EUR over time."""
    width, height, pad = 900, 360, 50
    values = [float(r["equity_eur"]) for r in rows]
    if not values:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"/>\n'
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = " ".join(
        f"{pad + i * step:.1f},{height - pad - (v - low) / span * (height - 2 * pad):.1f}"
        for i, v in enumerate(values)
    )
    first, last = rows[0]["time"][:10], rows[-1]["time"][:10]
    ticks = []
    for k in range(5):
        value = low + span * k / 4
        y = height - pad - (value - low) / span * (height - 2 * pad)
        ticks.append(
            f'<line x1="{pad}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{pad - 6}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="end">{value:,.0f}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">\n'
        f'<rect width="100%" height="100%" fill="white"/>\n'
        f'<text x="{width / 2}" y="24" font-size="15" text-anchor="middle">'
        f"{title}</text>\n" + "\n".join(ticks) + "\n"
        f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{points}"/>\n'
        f'<text x="{pad}" y="{height - pad + 18}" font-size="11">{first}</text>\n'
        f'<text x="{width - pad}" y="{height - pad + 18}" font-size="11" '
        f'text-anchor="end">{last}</text>\n'
        f'<text x="14" y="{height / 2}" font-size="11" transform="rotate(-90 14 '
        f'{height / 2})" text-anchor="middle">equity (EUR)</text>\n</svg>\n'
    )


def write_outputs(result: BacktestResult, out_dir: Path, inputs: BacktestInputs) -> list[Path]:
    """summary.json, trades.csv, equity.csv, decisions.csv, equity.svg, report.html
    (byte-identical for identical inputs)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "summary.json": json.dumps(result.summary(), indent=2, sort_keys=True, default=str) + "\n",
        "trades.csv": csv_text(result.trades),
        "equity.csv": csv_text(result.equity),
        "decisions.csv": csv_text(result.decisions),
        "equity.svg": equity_svg(
            result.equity, f"Cerbero Bite backtest {inputs.start} to {inputs.end}: equity in EUR"
        ),
        "report.html": report_html(
            f"Cerbero Bite backtest {inputs.start} to {inputs.end}",
            result.summary(),
            result.equity,
            result.trades,
        ),
    }
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def default_inputs(start: date, end: date) -> BacktestInputs:
    """The shipped real data: ETH daily prices, ETH DVOL, EUR/USD."""
    return BacktestInputs(
        start,
        end,
        default_data_file("eth_usd_daily.csv"),
        default_data_file("eth_dvol.csv"),
        default_data_file("eurusd_daily.csv"),
    )
