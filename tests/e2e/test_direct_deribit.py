"""entry-run --dry-run in testnet through the direct Deribit connector, on the real chain."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bite.paper.calibration import read_recorded

from tests.e2e.deribit_server import FakeDeribit, deribit_server, local_server
from tests.e2e.virtual_job import run_job
from tests.integration.cli_support import ROOT, bite
from tests.process_support import paper_server
from tests.support import FIXTURES
from tests.unit.clients.direct.public_support import ECB_XML

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
        f"    public_url: {public_url}\n{services}\n"
        "hedge:\n  mode: none\n",  # these scenarios test the options' path
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


def todays_rates(path: str, body: bytes) -> bytes:
    return ECB_XML.replace(b"DAY", datetime.now(UTC).date().isoformat().encode())


def test_every_service_direct_as_the_runbook_sets_it_up(tmp_path: Path) -> None:
    # the runbook's testnet setup: Deribit, Hyperliquid, the ECB, Fear & Greed and the
    # calendar file, each at a local stand-in for its public source
    real = json.loads(
        (FIXTURES / "hyperliquid/metaAndAssetCtxs_testnet_2024-12-21.json").read_text()
    )
    eth = [a["name"] for a in real[0]["universe"]].index("ETH")
    real[1][eth]["funding"] = "0.0000125"  # testnet's 0.035 %/h would refuse the entry
    ctxs, meta = json.dumps(real).encode(), json.dumps(real[0]).encode()
    asked: list[str] = []

    def hyperliquid(path: str, body: bytes) -> bytes:
        kind = json.loads(body)["type"]
        asked.append(kind)
        if kind == "fundingHistory":  # the last hour's funding, paid on the hour
            hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            row = {"coin": "ETH", "fundingRate": "0.0000125", "premium": "0.0001"}
            return json.dumps([{**row, "time": int(hour.timestamp() * 1000)}]).encode()
        return ctxs if kind == "metaAndAssetCtxs" else meta

    def fear_greed(path: str, body: bytes) -> bytes:
        stamp = str(int(datetime.now(UTC).timestamp()))
        return json.dumps(
            {"data": [{"value": "38", "value_classification": "Fear", "timestamp": stamp}]}
        ).encode()

    soon = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "calendar.yaml").write_text(
        f"events:\n  - {{name: FOMC, time: '{soon}', impact: high, country: US}}\n",
        encoding="utf-8",
    )
    trade = FakeDeribit(datetime.now(UTC))
    with (
        deribit_server(trade) as url,
        local_server(hyperliquid) as hl,
        local_server(todays_rates) as ecb,
        local_server(fear_greed) as fng,
    ):
        path = tmp_path / "strategy.yaml"
        path.write_text(
            "execution:\n  environment: testnet\n  retry_waits_s: [0]\nservices:\n"
            f"  deribit:\n    transport: direct\n    url: {url}\n    public_url: {url}\n"
            f"  hyperliquid:\n    transport: direct\n    url: {hl}/info\n"
            f"  macro:\n    transport: direct\n    url: {ecb}/eurofxref-daily.xml\n"
            f"    calendar_file: {tmp_path / 'calendar.yaml'}\n"
            f"  sentiment:\n    transport: direct\n    url: {fng}/fng/\n",
            encoding="utf-8",
        )
        env = {"CERBERO_BITE_DERIBIT_CLIENT_ID": "id", "CERBERO_BITE_DERIBIT_CLIENT_SECRET": "s"}
        data = ["--config", str(path), "--data-dir", str(tmp_path / "data")]
        ping = bite("ping", "--json", *data, env=env)
        done = bite("entry-run", "--dry-run", "--json", *data, env=env)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    services = json.loads(ping.stdout)["services"]
    assert all(s["reachable"] for s in services), services
    assert {s["service"]: s["transport"] for s in services} == dict.fromkeys(
        ("deribit", "hyperliquid", "macro", "sentiment"), "direct"
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "unavailable" not in out["numbers"], out["numbers"]
    assert out["numbers"]["fear_greed"] == 38
    assert out["status"] == "would_enter", (out["reasons"], out["numbers"])
    assert out["proposal"]["spread_type"] == "bull_put"
    assert "metaAndAssetCtxs" in asked
    assert "fundingHistory" in asked


def test_a_calendar_that_ends_too_soon_refuses_or_warns_with_a_medium_alert(
    tmp_path: Path,
) -> None:
    def event(name: str, days: int) -> str:
        when = (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"  - {{name: {name}, time: '{when}', impact: high, country: US}}\n"

    trade = FakeDeribit(datetime.now(UTC))
    results = {}
    with (
        paper_server(tmp_path) as port,
        deribit_server(trade) as url,
        local_server(todays_rates) as ecb,
    ):
        for case, events in {
            "gap": event("US CPI", 10) + event("FOMC", 60),  # CPI ends within 30 days
            "stale": event("US CPI", 10) + event("FOMC", 20),  # nothing beyond 30 days
            "missing": None,  # no calendar file where the config says
        }.items():
            work = tmp_path / case
            work.mkdir()
            if events is not None:
                (work / "calendar.yaml").write_text("events:\n" + events, encoding="utf-8")
            path = config(work, url, url, port)
            text = path.read_text(encoding="utf-8").replace(
                f"  macro:\n    url: http://127.0.0.1:{port}/macro",
                f"  macro:\n    transport: direct\n    url: {ecb}/eurofxref-daily.xml\n"
                f"    calendar_file: {work / 'calendar.yaml'}",
            )
            path.write_text(text, encoding="utf-8")
            data = ["--config", str(path), "--data-dir", str(work / "data")]
            assert bite("config", "approve", "--yes", *data).returncode == 0
            # armed: the cycle reads every input and decides, but sends nothing
            arm = bite("kill-switch", "arm", "--reason", "test", "--no-exits", *data[2:])
            assert arm.returncode == 0, arm.stderr
            done = bite(
                "entry-run",
                "--json",
                *data,
                env={
                    "CERBERO_BITE_DERIBIT_CLIENT_ID": "id",
                    "CERBERO_BITE_DERIBIT_CLIENT_SECRET": "s",
                },
            )
            assert done.returncode == 0, done.stderr
            with sqlite3.connect(work / "data" / "state.sqlite") as db:
                alerts = db.execute("SELECT severity, key FROM alerts").fetchall()
            results[case] = (json.loads(done.stdout)["reasons"], alerts)
    reasons, alerts = results["gap"]
    assert ("MEDIUM", "calendar_gap:US CPI") in alerts
    assert "calendar_stale" not in reasons
    for case in ("stale", "missing"):
        reasons, alerts = results[case]
        assert ("MEDIUM", "calendar_stale") in alerts, case
        assert "calendar_stale" in reasons, case
    assert "kill_switch_armed" in reasons
    assert not [c for c in trade.calls if c.startswith("private/") and "get_" not in c]


# a Monday afternoon, outside Deribit's settlement window (the jobs that send orders
# run on this virtual clock: outside paper, CERBERO_BITE_NOW is refused)
TRADING_TIME = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
CREDENTIALS = {"CERBERO_BITE_DERIBIT_CLIENT_ID": "id", "CERBERO_BITE_DERIBIT_CLIENT_SECRET": "s"}


def trading_venue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, FakeDeribit]:
    """The paper services' config on the scripted market, the credentials set, and the
    JSON-RPC venue at the trading time."""
    (tmp_path / "script.yaml").write_text(SCRIPT, encoding="utf-8")
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server_cfg = (
        f"paper:\n  market:\n    kind: scripted\n    script_file: {tmp_path / 'script.yaml'}\n"
    )
    return server_cfg, FakeDeribit(TRADING_TIME)


def test_a_live_trade_through_the_connector_is_booked_from_the_leg_fills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the venue opens the combo book the other way round and files the leg fills under
    # the combo id only: the entry, its monitoring and its close must still be booked
    server_cfg, venue = trading_venue(tmp_path, monkeypatch)
    data_dir = tmp_path / "data"
    state = data_dir / "state.sqlite"

    def query(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(state) as db:
            return db.execute(sql).fetchall()

    with paper_server(tmp_path, server_cfg) as port, deribit_server(venue) as url:
        path = config(tmp_path, url, url, port)
        data = ["--config", str(path), "--data-dir", str(data_dir)]
        assert bite("config", "approve", "--yes", *data).returncode == 0

        out = run_job("entry-run", path, data_dir, TRADING_TIME)
        assert (out["exit_code"], out["status"]) == (0, "entered"), out
        n = out["proposal"]["contracts"]
        short = out["proposal"]["short"]["instrument_name"]
        long = out["proposal"]["long"]["instrument_name"]
        credit = float(out["order"]["average_price"])
        assert credit == float(out["proposal"]["ladder"][0])  # filled at the first rung
        [(status, contracts, booked)] = query(
            "SELECT status, contracts, entry_credit_eth FROM positions"
        )
        assert (status, contracts, float(booked)) == ("open", n, credit)
        fills = query("SELECT instrument_name, direction, amount FROM fills")
        assert sorted((i, d, float(a)) for i, d, a in fills) == sorted(
            [(short, "sell", float(n)), (long, "buy", float(n))]
        )
        assert venue.positions == {short: -n, long: n}
        # the quotes the entry read are kept, in the form --compare reads
        [recorded] = (data_dir / "chains").glob("chain-*.csv.gz")
        quotes = read_recorded(recorded)
        assert short in {q.name for q in quotes} and long in {q.name for q in quotes}

        # the next monitor run manages it through the same connector
        venue.now = TRADING_TIME + timedelta(hours=12)  # the venue's quotes are fresh
        managed = run_job("monitor-run", path, data_dir, venue.now)
        assert [(p["position_id"], p["action"]) for p in managed["positions"]] == [
            (out["proposal"]["proposal_id"], "HOLD")
        ]

        # the time rule reached at once: the next run closes through the same book
        (tmp_path / "strategy.local.yaml").write_text(
            "exit:\n  time_exit_hours: 1000\n", encoding="utf-8"
        )
        assert bite("config", "approve", "--yes", *data).returncode == 0
        venue.now = TRADING_TIME + timedelta(hours=24)
        closed = run_job("monitor-run", path, data_dir, venue.now)
    assert closed["exit_code"] == 0, closed
    assert (closed["status"], closed["positions"][0]["action"]) == ("closed", "CLOSE_TIME")
    assert [c for c in venue.calls if c in ("private/buy", "private/sell")] == [
        "private/sell",  # the book points the other way: the credit spread is sold
        "private/buy",  # and the same book bought back
    ]
    assert not any(venue.positions.values())
    debit = float(closed["positions"][0]["order"]["average_price"])
    [(status, pnl, fees)] = query("SELECT status, realized_pnl_eth, fees_eth FROM positions")
    assert (status, len(query("SELECT * FROM fills"))) == ("closed", 4)
    assert float(fees) == pytest.approx(4 * 0.0003 * n)
    assert float(pnl) == pytest.approx(n * (credit - debit) - float(fees), abs=1e-9)
    assert bite("audit", "verify", "--data-dir", str(data_dir)).returncode == 0


@pytest.mark.parametrize("days_later", [0, 2], ids=["at once", "two days later"])
def test_an_entry_killed_while_its_order_is_at_the_venue_is_settled_by_recover(
    tmp_path: Path, days_later: int
) -> None:
    # the venue fills the order but holds its answer; the job is killed (SIGKILL)
    # meanwhile. `bite recover` finds the order by label and books the position from
    # its leg fills; nothing is sent twice. Two days later Deribit no longer lists the
    # order (30 minutes) nor its trades (24 hours) as recent: recovery reads history.
    (tmp_path / "script.yaml").write_text(SCRIPT, encoding="utf-8")
    server_cfg = (
        f"paper:\n  market:\n    kind: scripted\n    script_file: {tmp_path / 'script.yaml'}\n"
    )
    venue = FakeDeribit(TRADING_TIME)
    venue.hold_answers = threading.Event()
    data_dir = tmp_path / "data"
    with paper_server(tmp_path, server_cfg) as port, deribit_server(venue) as url:
        path = config(tmp_path, url, url, port)
        data = ["--config", str(path), "--data-dir", str(data_dir)]
        assert bite("config", "approve", "--yes", *data).returncode == 0
        full = {k: v for k, v in os.environ.items() if not k.startswith("CERBERO_BITE_")}
        args = ["entry-run", str(path), str(data_dir), TRADING_TIME.isoformat()]
        job = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.virtual_job", *args],
            env={**full, **CREDENTIALS},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert venue.order_received.wait(60), "the order never reached the venue"
            job.send_signal(signal.SIGKILL)
            assert job.wait(10) == -signal.SIGKILL
        finally:
            venue.hold_answers.set()
            if job.poll() is None:
                job.kill()
            job.wait(10)  # reaped whatever happened
        with sqlite3.connect(data_dir / "state.sqlite") as db:
            assert db.execute("SELECT status FROM positions").fetchall() == [("awaiting_fill",)]
        # recover sends nothing (cancels never wait): the CLI on the wall clock
        venue.later_s = days_later * 86400.0
        recovered = bite("recover", "--json", *data, env=CREDENTIALS)
        again = bite("recover", "--json", *data, env=CREDENTIALS)
    assert recovered.returncode == 0, recovered.stderr
    assert again.returncode == 0, again.stderr
    [order] = venue.orders.values()
    n = int(order["filled_amount"])
    with sqlite3.connect(data_dir / "state.sqlite") as db:
        [(status, contracts, credit)] = db.execute(
            "SELECT status, contracts, entry_credit_eth FROM positions"
        ).fetchall()
        legs = db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
    assert (status, contracts, legs) == ("open", n, 2)
    assert float(credit) == float(order["price"])  # sold the other-way book at +credit
    assert [c for c in venue.calls if c in ("private/buy", "private/sell")] == ["private/sell"]
    assert ("private/get_order_history_by_currency" in venue.calls) == (days_later > 0)
    assert bite("audit", "verify", "--data-dir", str(data_dir)).returncode == 0


def test_the_hedge_trades_the_perpetual_through_the_connector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """private/sell on ETH-PERPETUAL with a hedge label, its fill read back by order,
    and private/get_position the next hour: the short is where the target wants it."""
    server_cfg, venue = trading_venue(tmp_path, monkeypatch)
    data_dir = tmp_path / "data"
    with paper_server(tmp_path, server_cfg) as port, deribit_server(venue) as url:
        path = config(tmp_path, url, url, port)
        (tmp_path / "strategy.local.yaml").write_text("hedge:\n  mode: usd\n", encoding="utf-8")
        data = ["--config", str(path), "--data-dir", str(data_dir)]
        assert bite("config", "approve", "--yes", *data).returncode == 0
        out = run_job("entry-run", path, data_dir, TRADING_TIME)
        assert (out["exit_code"], out["status"]) == (0, "entered"), out
        hedge = out["hedge"]
        assert (hedge["status"], hedge["order"]["side"]) == ("filled", "sell"), hedge
        sold = hedge["order"]["amount_usd"]
        assert venue.perp_size == -sold
        sells = [o for o in venue.orders.values() if o["instrument_name"] == "ETH-PERPETUAL"]
        assert [o["label"] for o in sells] == [f"bite-h{TRADING_TIME:%Y%m%d%H%M}"]
        with sqlite3.connect(data_dir / "state.sqlite") as db:
            rows = db.execute("SELECT state, filled_amount, fee_eth FROM hedge_orders").fetchall()
        assert [(s, f) for s, f, _ in rows] == [("filled", sold)]
        assert float(rows[0][2]) > 0  # the taker fee, from the fill
        venue.now = TRADING_TIME + timedelta(hours=1)
        later = run_job("monitor-run", path, data_dir, venue.now)
    assert later["hedge"]["status"] == "inside_band", later["hedge"]
    assert Decimal(later["hedge"]["short_usd"]) == sold
    assert "private/get_position" in venue.calls
