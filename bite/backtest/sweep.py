"""``bite backtest sweep``: a walk-forward study of parameter sets under market variants.

The grid (YAML) maps dotted config keys to lists of values; their product is the
parameter sets. Its ``variants:`` map names market-model variants, each a map of
dotted overrides (``paper.chain.iv_scale: 1.1``); without one there is ``base``.
Every set runs under every variant twice, each from fresh state and the same
starting equity: in-sample from ``--from`` to the day before ``--split``, and
out-of-sample from ``--split`` to ``--to``, so the second starts as a new account
would. Studies judge rules, so the runs fill at the touch, keep no halt that needs
a person (``negative_edge``, ``drawdown_halt``), and are ranked by the lower end of
the in-sample expectancy interval (R) under the set's worst variant; the
out-of-sample result stands beside it and is never used to choose.

The runs are independent and deterministic, so they go to worker processes in any
order and the files come out the same whatever the number of workers, or on a Dask
cluster (``--scheduler ADDRESS``, the extra ``cerbero-bite[sweep]``; docs/decisions/0004).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bite.backtest.replay import default_inputs, load_market, run_backtest
from bite.config.schema import StrategyConfig
from bite.errors import ConfigError, UsageError
from bite.paper.market import DataFileError

PERIODS = ("in", "out")
MEASURES = (
    "trades",
    "hit_rate",
    "breakeven_hit_rate",
    "expectancy_r",
    "expectancy_r_ci95",
    "pnl_eur_total",
    "strategy_drawdown_eur",
    "sharpe_weekly",
)


@dataclass(frozen=True)
class Grid:
    """The parameter lists and the named variants of a study."""

    parameters: dict[str, list[Any]]
    variants: dict[str, dict[str, Any]]

    def sets(self) -> list[dict[str, Any]]:
        """Every combination of the parameters, in the grid's order."""
        keys = list(self.parameters)
        return [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*(self.parameters[k] for k in keys))
        ]


def read_grid(path: Path) -> Grid:
    """Read and check a grid file (errors name the file and the key)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("", "a grid is a mapping of dotted keys to lists")])
    raw_variants = data.pop("variants", None) or {"base": {}}
    problems = [
        (str(key), "needs a non-empty list of values")
        for key, values in data.items()
        if not isinstance(values, list) or not values
    ]
    if not isinstance(raw_variants, dict) or not all(
        isinstance(v, dict) for v in raw_variants.values()
    ):
        problems.append(("variants", "a map of names to maps of dotted overrides"))
    if problems:
        raise ConfigError(str(path), problems)
    grid = Grid({str(k): list(v) for k, v in data.items()}, dict(raw_variants))
    base = StrategyConfig()
    for values in [*grid.sets()[:1], *grid.variants.values()]:
        overrides(base, values, path)  # a key that does not exist is named now, not per run
    return grid


def overrides(cfg: StrategyConfig, values: dict[str, Any], source: Path | None) -> StrategyConfig:
    """``cfg`` with dotted keys set; an unknown key or a bad value is a config error."""
    data = cfg.model_dump(mode="json")
    for dotted, value in values.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ConfigError(str(source or "grid"), [(dotted, "no such section")])
            node = node[part]
        if leaf not in node:
            raise ConfigError(str(source or "grid"), [(dotted, "no such key")])
        node[leaf] = value
    try:
        return StrategyConfig.model_validate(data)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(str(source or "grid"), problems) from None


@dataclass(frozen=True)
class Run:
    """One backtest of a study: a set under a variant over a period."""

    set_id: int
    variant: str
    period: str
    start: date
    end: date
    config: dict[str, Any]  # the run's config, as JSON (it crosses to a worker process)


def run_one(run: Run) -> tuple[int, str, str, dict[str, Any]]:
    """The run's summary (in a worker process)."""
    shipped = default_inputs(run.start, run.end)
    # a study ranks rules by E[R], which the hedge does not change (the same entries and
    # exits; R is per trade): its runs go unhedged, about twice as fast
    inputs = replace(shipped, fills="touch", halts=False, hedge="none")
    result = asyncio.run(run_backtest(inputs, StrategyConfig.model_validate(run.config)))
    summary = result.summary()
    return run.set_id, run.variant, run.period, {k: summary[k] for k in MEASURES}


def plan(grid: Grid, cfg: StrategyConfig, start: date, split: date, end: date) -> list[Run]:
    """Every run of the study, in a fixed order."""
    if not start < split <= end:
        raise DataFileError("--split must fall after --from and no later than --to")
    for first, last in ((start, split - timedelta(days=1)), (split, end)):
        load_market(default_inputs(first, last), cfg)  # bad data fails now, not in a worker
    runs = []
    for set_id, values in enumerate(grid.sets(), start=1):
        for variant, extra in grid.variants.items():
            config = overrides(cfg, {**values, **extra}, None).model_dump(mode="json")
            runs.append(Run(set_id, variant, "in", start, split - timedelta(days=1), config))
            runs.append(Run(set_id, variant, "out", split, end, config))
    return runs


Results = dict[tuple[int, str, str], dict[str, Any]]
SCHEDULER_TIMEOUT_S = 10


def execute(
    runs: list[Run],
    workers: int,
    progress: Callable[[int, int], None] | None = None,
    scheduler: str | None = None,
) -> Results:
    """Run them in ``workers`` processes (1: in this one), or as the tasks of the Dask
    cluster whose scheduler is at ``scheduler``; results keyed, order-free."""
    if scheduler is not None:
        return _on_cluster(runs, scheduler, progress)
    results: Results = {}
    if workers <= 1:
        for done, run in enumerate(runs, start=1):
            set_id, variant, period, summary = run_one(run)
            results[(set_id, variant, period)] = summary
            if progress:
                progress(done, len(runs))
        return results
    context = multiprocessing.get_context("fork")  # the workers inherit the loaded modules
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run_one, run) for run in runs]
        for done, future in enumerate(as_completed(futures), start=1):
            set_id, variant, period, summary = future.result()
            results[(set_id, variant, period)] = summary
            if progress:
                progress(done, len(runs))
    return results


def _on_cluster(
    runs: list[Run], address: str, progress: Callable[[int, int], None] | None
) -> Results:
    """One task per run on a Dask cluster; every worker needs this bite and its data."""
    try:
        from distributed import Client  # noqa: PLC0415 - an optional extra
        from distributed import as_completed as finished  # noqa: PLC0415
    except ImportError:
        raise UsageError(
            "--scheduler needs the sweep extra: pip install 'cerbero-bite[sweep]'"
        ) from None
    try:
        # distributed's own signatures are untyped
        client = Client(  # type: ignore[no-untyped-call]
            address, timeout=SCHEDULER_TIMEOUT_S, set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(
            f"--scheduler: no Dask scheduler answered at {address} within "
            f"{SCHEDULER_TIMEOUT_S} s ({type(exc).__name__})"
        ) from None
    results: Results = {}
    with client:
        futures = client.map(run_one, runs, pure=False)
        in_order_of_finish = finished(futures, loop=client.loop)  # type: ignore[no-untyped-call]
        for done, future in enumerate(in_order_of_finish, start=1):
            set_id, variant, period, summary = future.result()
            results[(set_id, variant, period)] = summary
            if progress:
                progress(done, len(runs))
    return results


def rows(grid: Grid, results: Results) -> list[dict[str, Any]]:
    """sweep.csv: a row per set and variant, in- and out-of-sample side by side."""
    out = []
    for set_id, values in enumerate(grid.sets(), start=1):
        for variant in grid.variants:
            row: dict[str, Any] = {"set": set_id, "variant": variant, **values}
            for period in PERIODS:
                summary = results[(set_id, variant, period)]
                for key in MEASURES:
                    value = summary[key]
                    if key == "expectancy_r_ci95":
                        low, high = value if value else ("", "")
                        row[f"{period}_ci95_low"], row[f"{period}_ci95_high"] = low, high
                    else:
                        row[f"{period}_{key}"] = "" if value is None else value
            out.append(row)
    return out


def _low(value: Any) -> float:
    return float(value) if value != "" else float("-inf")


def ranked(grid: Grid, table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A row per set, best first: by the lower end of its in-sample interval under its worst
    variant. The out-of-sample figures of that variant and of the first variant stand beside."""
    first = next(iter(grid.variants))
    out = []
    for set_id, values in enumerate(grid.sets(), start=1):
        mine = [r for r in table if r["set"] == set_id]
        worst = min(mine, key=lambda r: _low(r["in_ci95_low"]))
        own = next(r for r in mine if r["variant"] == first)
        out.append(
            {
                "set": set_id,
                **values,
                "worst_variant": worst["variant"],
                "in_trades": worst["in_trades"],
                "in_expectancy_r": worst["in_expectancy_r"],
                "in_ci95_low": worst["in_ci95_low"],
                "in_ci95_high": worst["in_ci95_high"],
                "out_trades": worst["out_trades"],
                "out_expectancy_r": worst["out_expectancy_r"],
                "out_ci95_low": worst["out_ci95_low"],
                "out_ci95_high": worst["out_ci95_high"],
                f"out_expectancy_r_{first}": own["out_expectancy_r"],
            }
        )
    return sorted(out, key=lambda r: (-_low(r["in_ci95_low"]), r["set"]))
