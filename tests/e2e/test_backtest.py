"""bite backtest: byte-identical reruns, clear data errors, the live cycle functions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from bite.backtest import replay as backtest_module
from bite.jobs import entry as entry_job
from bite.jobs import monitor as monitor_job
from bite.paper.market import default_data_file

from tests.integration.cli_support import ROOT, bite
from tests.support import with_rules_under_test

SPAN = ("--from", "2022-01-03", "--to", "2022-03-20")


def pinned(tmp_path: Path) -> Path:
    """The defaults with the rules these scenarios were written for (RULES_UNDER_TEST)."""
    path = tmp_path / "pinned.yaml"
    path.write_text(yaml.safe_dump(with_rules_under_test({})), encoding="utf-8")
    return path


def run(tmp_path: Path, out: str, *extra: str) -> tuple[int, dict[str, object], str]:
    done = bite(
        "backtest",
        *SPAN,
        "--out",
        str(tmp_path / out),
        "--json",
        "--config",
        str(pinned(tmp_path)),
        "--fills",
        "improve",  # the mechanics under test need trades; studies fill at the touch
        *extra,
    )
    data = json.loads(done.stdout) if done.returncode == 0 else {}
    return done.returncode, data, done.stderr


def test_identical_inputs_give_byte_identical_outputs_with_or_without_http(
    tmp_path: Path,
) -> None:
    """Twice the same inputs, the same files, byte for byte: once from the command line
    (which asks the paper exchange in process, without HTTP and JSON: a third of its
    time) and once with every call through the HTTP transport and JSON."""
    import asyncio
    import gc
    from dataclasses import replace
    from datetime import date

    from bite.backtest.replay import default_inputs, run_backtest, write_outputs
    from bite.config.loader import load_config

    code, first, err = run(tmp_path, "a")
    assert code == 0, err
    inputs = replace(
        default_inputs(date(2022, 1, 3), date(2022, 3, 20)), fills="improve", in_process=False
    )
    thresholds = gc.get_threshold()
    result = asyncio.run(run_backtest(inputs, load_config(pinned(tmp_path)).config))
    assert gc.get_freeze_count() == 0  # what the replay kept from the collector is given back
    assert gc.get_threshold() == thresholds  # and the collector's own pace
    write_outputs(result, tmp_path / "b", inputs)
    assert first["summary"] == result.summary()
    for name in ("summary.json", "trades.csv", "equity.csv", "decisions.csv", "equity.svg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    summary = first["summary"]
    assert json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8")) == summary
    assert isinstance(summary, dict)
    assert summary["trades"] >= 2
    assert summary["entry_slots"] == 11
    trades = (tmp_path / "a" / "trades.csv").read_text(encoding="utf-8").splitlines()
    assert trades[0].startswith("position,opened,closed")
    assert re.match(r"bt7-2022\d{4}14,", trades[1])  # ids from the seed and the Monday slot
    assert (tmp_path / "a" / "equity.svg").read_text(encoding="utf-8").startswith("<svg")
    assert err == ""  # no progress bar without a terminal


def test_the_backtest_calls_the_live_cycle_functions() -> None:
    names = vars(backtest_module)
    assert names["run_entry_cycle"] is entry_job.run_entry_cycle
    assert names["run_monitor_cycle"] is monitor_job.run_monitor_cycle


def _copy_with(tmp_path: Path, edit: str) -> Path:
    lines = default_data_file("eth_usd_daily.csv").read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("2022-02-10"))
    if edit == "gap":
        del lines[index]
    elif edit == "duplicate":
        lines.insert(index, lines[index])
    else:
        lines[index] = "2022-02-10,1,2,3,not-a-number,5"
    path = tmp_path / f"{edit}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_gap_a_duplicate_and_a_bad_number_are_named_with_file_and_line(tmp_path: Path) -> None:
    for edit, words in (
        ("gap", "gap from 2022-02-09"),
        ("duplicate", "duplicate date"),
        ("bad", "bad number"),
    ):
        path = _copy_with(tmp_path, edit)
        code, _, err = run(tmp_path, edit, "--prices", str(path))
        assert code == 2
        assert str(path) in err
        assert words in err
        assert f"{path}:" in err  # the line


def test_an_error_outside_the_span_read_does_not_matter(tmp_path: Path) -> None:
    lines = default_data_file("eth_usd_daily.csv").read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("2024-06-01"))
    lines[index] = "2024-06-01,1,2,3,not-a-number,5"
    path = tmp_path / "late.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run(tmp_path, "late", "--prices", str(path))
    assert code == 0, err


def test_a_range_outside_the_data_is_refused_with_what_is_available(tmp_path: Path) -> None:
    done = bite(
        "backtest",
        "--from",
        "2019-01-01",
        "--to",
        "2019-03-01",
        "--out",
        str(tmp_path / "x"),
        "--config",
        str(ROOT / "strategy.yaml"),
    )
    assert done.returncode == 2
    assert "DVOL covers 2021-03-24..2026-04-06" in done.stderr or "prices cover" in done.stderr


def _scaled_after(source: Path, target: Path, day: str, factor: float) -> None:
    """A copy of a daily file whose every row dated after ``day`` is scaled (OHLC alike)."""
    lines = source.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    numeric = [i for i, name in enumerate(header) if name in ("open", "high", "low", "close")]
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[0] > day:
            for i in numeric:
                cells[i] = repr(float(cells[i]) * factor)
        out.append(",".join(cells))
    target.write_text("\n".join(out) + "\n", encoding="utf-8")


def _up_to(path: Path, last: str) -> list[str]:
    """The rows of a CSV output whose first column (a time or id time) is on or before ``last``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [lines[0], *(line for line in lines[1:] if line.split(",")[0][:10] <= last)]


def test_changing_every_row_after_a_day_changes_nothing_up_to_its_end(tmp_path: Path) -> None:
    day = "2022-02-22"  # a position opened on the 21st is held through it
    prices, dvol = tmp_path / "prices.csv", tmp_path / "dvol.csv"
    _scaled_after(default_data_file("eth_usd_daily.csv"), prices, day, 1.37)
    _scaled_after(default_data_file("eth_dvol.csv"), dvol, day, 0.61)
    code, _, err = run(tmp_path, "real")
    code_changed, _, err_changed = run(
        tmp_path, "changed", "--prices", str(prices), "--dvol", str(dvol)
    )
    assert (code, code_changed) == (0, 0), err + err_changed
    real, changed = tmp_path / "real", tmp_path / "changed"
    decisions = _up_to(real / "decisions.csv", day)
    assert sum(1 for line in decisions if ",entry," in line) >= 6  # the check has weight
    assert decisions == _up_to(changed / "decisions.csv", day)
    assert _up_to(real / "equity.csv", day) == _up_to(changed / "equity.csv", day)
    trades = [
        line
        for line in (real / "trades.csv").read_text(encoding="utf-8").splitlines()[1:]
        if line.split(",")[2][:10] <= day
    ]
    changed_trades = (changed / "trades.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert all(line in changed_trades for line in trades)
    # and the runs do part after the day: the change was seen from the next day on
    assert (real / "equity.csv").read_bytes() != (changed / "equity.csv").read_bytes()


GRID = """\
strikes.short_delta_target: [0.16, 0.20]
exit.take_profit_pct_of_credit: [0.5]
variants:
  base: {}
  wide: {paper.chain.spread_scale: 1.5}
"""


def _sweep_run(grid: Path, out: Path, *where: str, process: bool = False) -> Any:
    """``bite backtest sweep`` of ``grid`` over ten weeks in which most runs trade, in and
    out of sample; ``where``: --workers, --scheduler, --json."""
    return bite(
        "backtest",
        "sweep",
        "--grid",
        str(grid),
        "--from",
        "2022-09-05",
        "--split",
        "2022-10-17",
        "--to",
        "2022-11-13",
        *where,
        "--out",
        str(out),
        "--config",
        str(ROOT / "strategy.yaml"),
        process=process,
    )


def _sweep(grid: Path, out: Path, *where: str, process: bool = False) -> dict[str, Any]:
    done = _sweep_run(grid, out, *where, "--json", process=process)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["runs"] == 2 * 2 * 2  # sets x variants x (in, out)
    assert report["fills"] == "touch"
    return report


def test_a_sweep_writes_the_same_files_on_one_worker_two_or_a_dask_cluster(
    tmp_path: Path,
) -> None:
    """The study's files depend on the grid and the data, never on where the runs ran:
    one worker, two forked ones, or a Dask cluster of two worker processes on
    127.0.0.1 (the extra ``cerbero-bite[sweep]``, installed by ``make install-dev``)."""
    from distributed import LocalCluster

    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID, encoding="utf-8")
    outputs = {}
    _sweep(grid, tmp_path / "1", "--workers", "1")
    # worker processes are forked: from a process of its own
    _sweep(grid, tmp_path / "2", "--workers", "2", process=True)
    with LocalCluster(  # type: ignore[no-untyped-call]  # distributed's signatures are untyped
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        report = _sweep(grid, tmp_path / "dask", "--scheduler", cluster.scheduler_address)
    assert report["ran_on"] == f"the cluster at {cluster.scheduler_address}"
    for where in ("1", "2", "dask"):
        out = tmp_path / where
        outputs[where] = (out / "sweep.csv").read_bytes(), (out / "ranked.csv").read_bytes()
    assert outputs["1"] == outputs["2"] == outputs["dask"]
    rows = outputs["1"][0].decode().splitlines()
    assert rows[0].startswith("set,variant,strikes.short_delta_target,")
    assert len(rows) == 1 + 2 * 2
    table = [dict(zip(rows[0].split(","), row.split(","), strict=True)) for row in rows[1:]]
    assert sum(int(r["in_trades"]) for r in table) >= 1  # the files hold trades, not zeros
    assert sum(int(r["out_trades"]) for r in table) >= 1


def test_a_scheduler_that_does_not_answer_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens on the address: exit 2 naming it, after the client's timeout."""
    import socket

    from bite.backtest import sweep

    monkeypatch.setattr(sweep, "SCHEDULER_TIMEOUT_S", 1)
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID, encoding="utf-8")
    done = _sweep_run(grid, tmp_path / "out", "--scheduler", address, "--json")
    assert done.returncode == 2
    assert f"no Dask scheduler answered at {address}" in json.loads(done.stdout)["error"]
    assert not (tmp_path / "out" / "sweep.csv").exists()


def test_workers_and_a_scheduler_together_are_refused_before_any_run(tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID, encoding="utf-8")
    done = _sweep_run(
        grid, tmp_path / "out", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1", "--json"
    )
    assert done.returncode == 2
    assert "--workers and --scheduler" in json.loads(done.stdout)["error"]
    assert not (tmp_path / "out").exists()


def test_a_grid_key_that_does_not_exist_is_named(tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text("strikes.short_delta_targte: [0.2]\n", encoding="utf-8")
    done = _sweep_run(grid, tmp_path / "out")
    assert done.returncode == 2
    assert "strikes.short_delta_targte" in done.stderr


def test_the_hedge_changes_the_accounts_drawdown_not_the_trades(tmp_path: Path) -> None:
    """The same span with --hedge usd and --hedge none, by the same code: the same
    entries and exits (time, legs, rule), and the account's EUR drawdown at most half."""
    span = ("--from", "2022-04-25", "--to", "2022-07-10")  # ETH fell from 2,900 to 1,100
    hedged = bite("backtest", *span, "--hedge", "usd", "--out", str(tmp_path / "h"), "--json")
    bare = bite("backtest", *span, "--hedge", "none", "--out", str(tmp_path / "n"), "--json")
    assert hedged.returncode == bare.returncode == 0, hedged.stderr + bare.stderr
    with_hedge = json.loads(hedged.stdout)["summary"]
    without = json.loads(bare.stdout)["summary"]

    def trades(name: str) -> list[tuple[str, ...]]:
        rows = (tmp_path / name / "trades.csv").read_text(encoding="utf-8").splitlines()[1:]
        return [(*r.split(",")[1:6], r.split(",")[8]) for r in rows]

    assert trades("h") == trades("n") != []
    assert (with_hedge["hedge"], without["hedge"]) == ("usd", "none")
    assert without["account_drawdown_eur_pct"] > 40
    assert with_hedge["account_drawdown_eur_pct"] <= without["account_drawdown_eur_pct"] / 2
    # the hedged run says what the same account would have lost without its hedge
    assert with_hedge["account_drawdown_eur_pct_without_hedge"] == pytest.approx(
        without["account_drawdown_eur_pct"], abs=0.5
    )
    assert float(with_hedge["hedge_fees_eth"]) > 0
    assert any("the hedge's funding" in a for a in with_hedge["approximations"])
    assert "hedge_eth" in (tmp_path / "h" / "equity.csv").read_text(encoding="utf-8")
