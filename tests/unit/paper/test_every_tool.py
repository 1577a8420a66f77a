"""Every tool of the contract answers on paper and parses through its client."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bite.clock import VirtualClock
from bite.context import Clients
from bite.errors import UsageError
from bite.paper.crash import KILLED, check_crash_point

from tests.integration.cli_support import ROOT
from tests.paper_support import T0, flat_config, with_clients


def test_every_tool_answers_and_parses(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> dict[str, Any]:
        now = clock.now()
        out: dict[str, Any] = {}
        out["environment"] = await c.deribit.environment()
        out["index"], _ = await c.deribit.index_price()
        out["dvol"] = await c.deribit.dvol(now - timedelta(hours=30), now)
        out["hourly"] = await c.deribit.candles(now - timedelta(hours=25), now, "60")
        out["daily"] = await c.deribit.candles(now - timedelta(days=130), now, "1D")
        out["instruments"] = await c.deribit.instruments()
        out["chain"] = await c.deribit.chain()
        name = out["chain"].quotes[0].name
        out["ticker"] = await c.deribit.ticker(name)
        out["account"] = await c.deribit.account_summary()
        out["positions"] = await c.deribit.positions()
        out["margin"] = await c.deribit.margin_estimate(
            [{"instrument_name": name, "direction": "sell"}], 1, Decimal("0.01")
        )
        out["open_orders"] = await c.deribit.open_orders()
        out["delivery"] = await c.deribit.delivery_prices(3)
        out["funding"] = await c.hyperliquid.funding()
        out["hl_value"] = await c.hyperliquid.account_value()
        out["eur_usd"] = await c.macro.eur_usd()
        out["eth_price"] = await c.macro.asset_price("ETH")
        out["calendar"] = await c.macro.calendar(now, now + timedelta(days=60), "high")
        out["fear_greed"] = await c.sentiment.fear_greed()
        out["portfolio"] = await c.portfolio.portfolio()
        return out

    cfg = flat_config(tmp_path).model_copy(
        update={
            "paper": flat_config(tmp_path).paper.model_copy(
                update={
                    "market": flat_config(tmp_path).paper.market.model_copy(
                        update={"kind": "synthetic"}
                    )
                }
            )
        }
    )
    out = with_clients(cfg, tmp_path, body)
    assert out["environment"] == "paper"
    assert out["index"] > 0
    assert len(out["dvol"]) == 31  # both ends of the 30 h window
    assert len(out["hourly"].ticks) == 26  # 25 complete hours and the one opening now
    assert out["hourly"].ticks[-1] == T0
    assert len(out["daily"].ticks) >= 129
    assert len(out["instruments"]) == len(out["chain"].quotes) + out["chain"].dropped_anomalous
    assert out["ticker"].greeks is not None
    assert out["account"].equity == Decimal(10)
    assert out["positions"] == [] and out["open_orders"] == []
    assert out["margin"] > 0
    assert len(out["delivery"]) == 3
    assert out["funding"].time <= out["ticker"].timestamp
    assert out["hl_value"] == 0
    assert Decimal("0.9") < out["eur_usd"].rate < Decimal("1.3")
    assert out["eth_price"][0] == pytest.approx(out["index"], rel=Decimal("0.001"))
    assert {e.name for e in out["calendar"]} <= {"FOMC rate decision", "US CPI"}
    assert 0 <= out["fear_greed"].value <= 100
    assert out["portfolio"].deribit_eth == Decimal(10)


def test_an_unknown_crash_point_is_refused() -> None:
    with pytest.raises(UsageError, match="after_order_sent"):
        check_crash_point({"CERBERO_BITE_CRASH_AT": "somewhere"})
    assert check_crash_point({"CERBERO_BITE_CRASH_AT": "after_order_sent"}) == "after_order_sent"


def test_a_crash_point_kills_the_process_with_137() -> None:
    code = (
        "from bite.paper.crash import crash_point\n"
        "import os\ncrash_point('after_proposed_commit', os.environ)\nprint('survived')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"CERBERO_BITE_CRASH_AT": "after_proposed_commit", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == KILLED
    assert "survived" not in done.stdout
