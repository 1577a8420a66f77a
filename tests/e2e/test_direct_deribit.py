"""entry-run --dry-run in testnet through the direct Deribit connector, on the real chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.e2e.deribit_server import FakeDeribit, deribit_server
from tests.integration.cli_support import bite
from tests.integration.test_paper_http import paper_server

SCRIPT = """points:
  - {time: '2020-01-01T00:00:00Z', spot: 2758, dvol: 62, fear_greed: 50}
  - {time: '2040-01-01T00:00:00Z', spot: 2758, dvol: 62, fear_greed: 50}
"""


def config(tmp_path: Path, trade_url: str, public_url: str, paper_port: int) -> Path:
    services = "\n".join(
        f"  {s}:\n    url: http://127.0.0.1:{paper_port}/{s}"
        for s in ("hyperliquid", "macro", "sentiment")
    )
    path = tmp_path / "strategy.yaml"
    path.write_text(
        "execution:\n  environment: testnet\n  retry_waits_s: [0]\n"
        f"services:\n  deribit:\n    transport: direct\n    url: {trade_url}\n"
        f"    public_url: {public_url}\n{services}\n",
        encoding="utf-8",
    )
    return path


def test_a_dry_run_on_the_real_chain_prints_its_proposal(tmp_path: Path) -> None:
    (tmp_path / "script.yaml").write_text(SCRIPT, encoding="utf-8")
    server_cfg = (
        f"paper:\n  market:\n    kind: scripted\n    script_file: {tmp_path / 'script.yaml'}\n"
    )
    trade = FakeDeribit(datetime.now(UTC))
    market = FakeDeribit(datetime.now(UTC))
    with (
        paper_server(tmp_path, server_cfg) as port,
        deribit_server(trade) as trade_url,
        deribit_server(market) as public_url,
    ):
        env = {"CERBERO_BITE_DERIBIT_CLIENT_ID": "id", "CERBERO_BITE_DERIBIT_CLIENT_SECRET": "s"}
        path = config(tmp_path, trade_url, public_url, port)
        done = bite(
            "entry-run",
            "--dry-run",
            "--json",
            "--config",
            str(path),
            "--data-dir",
            str(tmp_path / "data"),
            env=env,
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["status"], out["environment"]) == ("would_enter", "testnet"), out
    proposal = out["proposal"]
    assert proposal["spread_type"] == "bull_put"
    assert proposal["short"]["instrument_name"].endswith("-2400-P")
    assert proposal["long"]["instrument_name"].endswith("-2200-P")
    # market data from the public endpoint, the account from the trading one
    assert "public/get_book_summary_by_currency" in market.calls
    assert "public/get_book_summary_by_currency" not in trade.calls
    assert "private/get_account_summary" in trade.calls
    assert "public/get_time" in trade.calls
    assert "private/get_margins" in trade.calls  # the broker's estimate sizes the order


def test_a_trading_endpoint_in_another_environment_stops_before_anything_private(
    tmp_path: Path,
) -> None:
    trade = FakeDeribit(datetime.now(UTC), testnet=False)
    with paper_server(tmp_path) as port, deribit_server(trade) as url:
        path = config(tmp_path, url, url, port)
        done = bite(
            "config",
            "approve",
            "--yes",
            "--config",
            str(path),
            "--data-dir",
            str(tmp_path / "data"),
        )
        assert done.returncode == 0, done.stderr
        run = bite(
            "entry-run",
            "--json",
            "--config",
            str(path),
            "--data-dir",
            str(tmp_path / "data"),
            env={"CERBERO_BITE_DERIBIT_CLIENT_ID": "id", "CERBERO_BITE_DERIBIT_CLIENT_SECRET": "s"},
        )
    assert run.returncode == 4
    assert not [c for c in trade.calls if c.startswith("private/") or c == "public/auth"]
    status = json.loads(
        bite("kill-switch", "status", "--json", "--data-dir", str(tmp_path / "data")).stdout
    )
    assert (status["armed"], status["reasons"]) == (True, ["environment_mismatch"])
