"""Real Deribit, Hyperliquid payloads parse into core types; anomalies raise or drop rows."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from bite.clients.deribit import DeribitClient
from bite.clients.deribit_json import (
    Instrument,
    instrument_to_info,
    order_from_json,
    order_result_from_json,
    summary_to_chain,
    ticker_to_quote,
)
from bite.clients.hyperliquid import funding_from_json, funding_from_meta_and_ctxs
from bite.clients.macro import rate_from_json
from bite.clock import WallClock
from bite.config.schema import AnomalyConfig
from bite.core.types import OptionType, TickSchedule
from bite.errors import McpDataAnomalyError, McpProtocolError
from pytest_httpx import HTTPXMock

from tests.support import FIXTURES, book_summary_rows, load_chain_snapshot
from tests.unit.clients.http_support import URL, make_http

A = AnomalyConfig()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def eth_instrument(name: str, strike: str, kind: OptionType = "call") -> Instrument:
    return Instrument(
        name,
        Decimal(strike),
        kind,
        datetime(2021, 7, 30, 8, tzinfo=UTC),
        TickSchedule(Decimal("0.0005")),
        Decimal(1),
        True,
    )


def test_real_instruments_of_2021_parse_and_keep_their_ticks() -> None:
    rows = fixture("deribit/get_instruments_ETH_2021-07-22.json")["result"]
    options = [instrument_to_info(r) for r in rows if r["kind"] == "option"]
    assert len(options) == 418
    first = options[0]
    assert first.expiry.hour == 8
    assert first.option_type in ("call", "put")
    assert first.ticks.tick > 0


def test_a_real_option_ticker_parses_with_greeks_and_amounts() -> None:
    data = fixture("deribit/ticker_option_ws_ETH-30JUL21-2800-C.json")["params"]["data"]
    q = ticker_to_quote(data, eth_instrument("ETH-30JUL21-2800-C", "2800"))
    assert (q.bid, q.ask, q.mark) == (Decimal("0.0015"), Decimal("0.0025"), Decimal("0.001972"))
    assert (q.bid_amount, q.ask_amount) == (4714.0, 873.0)
    assert q.greeks is not None
    assert q.greeks.delta == pytest.approx(0.03127)
    assert q.forward == Decimal("2003.61")
    assert q.timestamp == datetime.fromtimestamp(1626993723.632, tz=UTC)


def test_the_real_chain_of_2025_11_22_parses_as_book_summary_rows() -> None:
    _, _, quotes = load_chain_snapshot()
    rows = book_summary_rows(quotes)
    instruments = {
        q.name: Instrument(q.name, q.strike, q.option_type, q.expiry, q.ticks, Decimal(1), True)
        for q in quotes
    }
    chain = summary_to_chain(rows, instruments, datetime.now(UTC), A)
    assert len(chain.quotes) + chain.dropped_anomalous == 830
    assert chain.dropped_unlisted == 0
    assert chain.dropped_anomalous < 40  # deep ITM rows whose mark exceeds K / F


def test_docs_order_examples_parse() -> None:
    bought = order_result_from_json(
        fixture("deribit/docs_examples/private_buy.json")["result"], "place_combo_order"
    )
    assert bought.order.state == "filled"
    assert bought.trades[0].trade_id == "ETH-2696083"
    state = order_from_json(fixture("deribit/docs_examples/private_get_order_state.json")["result"])
    assert state.order_id
    live = order_result_from_json(
        fixture("deribit/order_buy_response_ws_ETH_USDC-PERPETUAL.json")["result"], "x"
    )
    assert live.order.state == "open"


def test_real_hyperliquid_meta_and_ctxs_finds_eth_by_name() -> None:
    data = fixture("hyperliquid/metaAndAssetCtxs_testnet_2024-12-21.json")
    funding = funding_from_meta_and_ctxs(data, "ETH", datetime(2024, 12, 21, tzinfo=UTC))
    assert funding.mark_px == Decimal("3562.5")
    assert funding.annual_pct == pytest.approx(funding.hourly * 876000)


TICKER = {
    "instrument_name": "ETH-30JUL21-2800-C",
    "timestamp": 1626993723632,
    "best_bid_price": 0.0015,
    "best_bid_amount": 10,
    "best_ask_price": 0.0025,
    "best_ask_amount": 10,
    "mark_price": 0.002,
    "mark_iv": 80.0,
    "underlying_price": 2003.61,
    "index_price": 2006.72,
    "open_interest": 100,
    "greeks": {"delta": 0.03, "gamma": 0.0002, "vega": 0.2, "theta": -1.6},
}


def ticker_client(httpx_mock: HTTPXMock, **changes: Any) -> DeribitClient:
    httpx_mock.add_response(
        url=f"{URL}/tools/instruments",
        json=[
            {
                "instrument_name": "ETH-30JUL21-2800-C",
                "strike": 2800,
                "option_type": "call",
                "expiration_timestamp": 1627632000000,
                "tick_size": 0.0005,
                "min_trade_amount": 1,
                "is_active": True,
            }
        ],
    )
    httpx_mock.add_response(url=f"{URL}/tools/ticker", json={**TICKER, **changes})
    http, _ = make_http()
    return DeribitClient(http, WallClock(), A)


@pytest.mark.parametrize(
    "changes",
    [
        {"mark_iv": 7},
        {"best_bid_price": 0.003, "best_ask_price": 0.002},
        {"mark_price": -0.001},
        {"best_ask_price": 1.2, "mark_price": 1.1},
    ],
)
def test_an_anomalous_leg_quote_raises(httpx_mock: HTTPXMock, changes: dict[str, Any]) -> None:
    client = ticker_client(httpx_mock, **changes)
    with pytest.raises(McpDataAnomalyError):
        asyncio.run(client.ticker("ETH-30JUL21-2800-C"))


def test_a_plausible_ticker_passes(httpx_mock: HTTPXMock) -> None:
    q = asyncio.run(ticker_client(httpx_mock).ticker("ETH-30JUL21-2800-C"))
    assert q.bid == Decimal("0.0015")


def test_dvol_sent_as_a_fraction_raises_and_is_never_rescaled(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{URL}/tools/dvol",
        json={"data": [[1700000000000, 0.5, 0.5, 0.5, 0.5]], "continuation": None},
    )
    http, _ = make_http()
    client = DeribitClient(http, WallClock(), A)
    with pytest.raises(McpDataAnomalyError, match="dvol_fraction"):
        asyncio.run(
            client.dvol(datetime(2023, 11, 14, tzinfo=UTC), datetime(2023, 11, 15, tzinfo=UTC))
        )


def test_the_docs_dvol_example_is_a_fraction_and_is_refused(httpx_mock: HTTPXMock) -> None:
    # Deribit's documentation example carries DVOL as 0.21: exactly the case the rule exists for
    result = fixture("deribit/docs_examples/public_get_volatility_index_data.json")["result"]
    assert all(row[4] < 2 for row in result["data"])
    httpx_mock.add_response(url=f"{URL}/tools/dvol", json=result)
    scaled = {**result, "data": [[r[0], *(v * 100 for v in r[1:])] for r in result["data"]]}
    httpx_mock.add_response(url=f"{URL}/tools/dvol", json=scaled)
    http, _ = make_http()
    client = DeribitClient(http, WallClock(), A)
    span = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2022, 1, 1, tzinfo=UTC))
    with pytest.raises(McpDataAnomalyError, match="dvol_fraction"):
        asyncio.run(client.dvol(*span))
    points = asyncio.run(client.dvol(*span))
    assert len(points) == 3
    assert points == tuple(sorted(points))


def test_anomalous_chain_rows_are_dropped_and_counted() -> None:
    inst = {
        "ETH-X-2800-C": eth_instrument("ETH-X-2800-C", "2800"),
        "ETH-X-2900-C": eth_instrument("ETH-X-2900-C", "2900"),
    }
    good = {
        "instrument_name": "ETH-X-2800-C",
        "bid_price": 0.01,
        "ask_price": 0.011,
        "mark_price": 0.0105,
        "mark_iv": 60,
        "underlying_price": 3000,
        "open_interest": 10,
        "creation_timestamp": 1700000000000,
    }
    bad = {**good, "instrument_name": "ETH-X-2900-C", "mark_iv": 7}
    unlisted = {**good, "instrument_name": "ETH-Y-1-C"}
    chain = summary_to_chain([good, bad, unlisted], inst, datetime.now(UTC), A)
    assert [q.name for q in chain.quotes] == ["ETH-X-2800-C"]
    assert (chain.dropped_anomalous, chain.dropped_unlisted) == (1, 1)


def test_an_order_with_an_unknown_state_is_a_protocol_error() -> None:
    with pytest.raises(McpProtocolError):
        order_from_json({"order_id": "1", "order_state": "weird", "amount": 1, "price": 1})


def test_a_broker_that_cannot_estimate_margin_leaves_sizing_to_the_formula(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(url=f"{URL}/tools/margin_estimate", status_code=404)
    httpx_mock.add_response(
        url=f"{URL}/tools/margin_estimate",
        status_code=400,
        json={"error": {"code": "13020", "message": "not_found"}},
    )
    http, _ = make_http()
    client = DeribitClient(http, WallClock(), A)
    legs = [{"instrument_name": "ETH-X-1-P", "direction": "sell"}]
    assert asyncio.run(client.margin_estimate(legs, 1, Decimal("0.01"))) is None
    assert asyncio.run(client.margin_estimate(legs, 1, Decimal("0.01"))) is None


def test_a_malformed_field_is_a_protocol_error_of_the_service_that_sent_it() -> None:
    with pytest.raises(McpProtocolError) as funding:
        funding_from_json({"funding_hourly": "n/a", "time": 1})
    with pytest.raises(McpProtocolError) as rate:
        rate_from_json({"rate": None, "time": "2026-12-01T15:00:00Z"})
    assert (funding.value.service, rate.value.service) == ("hyperliquid", "macro")
