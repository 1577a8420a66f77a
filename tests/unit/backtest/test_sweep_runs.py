"""A study's run: the rules under test, unhedged whatever the config ships."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from bite.backtest import sweep
from bite.backtest.replay import BacktestInputs, BacktestResult, run_backtest
from bite.config.schema import StrategyConfig


def test_a_studys_runs_go_unhedged_at_the_touch_without_halts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shipped config hedges; a study ranks rules by R, which the hedge does not
    change, so each of its runs is the real backtest with the hedge off."""
    seen: list[BacktestInputs] = []

    async def recorded(inputs: BacktestInputs, cfg: StrategyConfig) -> BacktestResult:
        seen.append(inputs)
        return await run_backtest(inputs, cfg)

    monkeypatch.setattr(sweep, "run_backtest", recorded)
    config: dict[str, Any] = StrategyConfig().model_dump(mode="json")
    assert config["hedge"]["mode"] == "usd"
    run = sweep.Run(1, "base", "in", date(2022, 1, 3), date(2022, 1, 16), config)
    set_id, variant, period, measures = sweep.run_one(run)
    assert (set_id, variant, period) == (1, "base", "in")
    ((inputs,),) = [seen]
    assert (inputs.hedge, inputs.fills, inputs.halts) == ("none", "touch", False)
    assert set(measures) == set(sweep.MEASURES)
