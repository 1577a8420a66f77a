"""The shared transport: error mapping, retries only for reads and cancels, headers, redaction."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from bite.clients.deribit import DeribitClient
from bite.clock import VirtualClock, WallClock
from bite.config.schema import AnomalyConfig
from bite.errors import (
    ExitCode,
    McpAuthError,
    McpError,
    McpProtocolError,
    McpRequestError,
    McpUnavailableError,
)
from pytest_httpx import HTTPXMock

from tests.unit.clients.http_support import TOKEN, URL, make_http


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize(
    ("status", "error", "exit_code"),
    [
        (401, McpAuthError, ExitCode.USAGE),
        (403, McpAuthError, ExitCode.USAGE),
        (404, McpProtocolError, ExitCode.USAGE),  # out of contract: a person looks
        (400, McpRequestError, ExitCode.TEMPFAIL),
        (422, McpRequestError, ExitCode.TEMPFAIL),
    ],
)
def test_status_codes_map_onto_the_error_tree(
    httpx_mock: HTTPXMock, status: int, error: type[McpError], exit_code: int
) -> None:
    httpx_mock.add_response(
        url=f"{URL}/tools/index_price",
        status_code=status,
        json={"error": {"code": "x", "message": f"bad {TOKEN}"}},
    )
    http, slept = make_http()
    with pytest.raises(error) as caught:
        run(http.call("deribit", "index_price", {}))
    assert caught.value.exit_code == exit_code
    assert TOKEN not in str(caught.value)
    assert slept == []  # never retried


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_unavailable_reads_retry_after_each_configured_wait(
    httpx_mock: HTTPXMock, status: int
) -> None:
    for _ in range(3):
        httpx_mock.add_response(url=f"{URL}/tools/index_price", status_code=status)
    httpx_mock.add_response(
        url=f"{URL}/tools/index_price",
        json={"index_price": 3000.5, "estimated_delivery_price": 3000.5},
    )
    http, slept = make_http()
    result = run(http.call("deribit", "index_price", {}))
    assert result["index_price"] == 3000.5
    assert slept == [1, 5, 30]
    assert http.stats().counts["deribit.index_price"] == 4


def test_reads_give_up_after_the_last_wait(httpx_mock: HTTPXMock) -> None:
    for _ in range(4):
        httpx_mock.add_response(url=f"{URL}/tools/index_price", status_code=503)
    http, slept = make_http()
    with pytest.raises(McpUnavailableError):
        run(http.call("deribit", "index_price", {}))
    assert slept == [1, 5, 30]


def test_timeouts_and_connection_errors_are_unavailable(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=f"{URL}/tools/index_price")
    httpx_mock.add_exception(
        httpx.ConnectError(f"cannot reach {URL}"), url=f"{URL}/tools/index_price"
    )
    http, _ = make_http(waits=(0,))
    with pytest.raises(McpUnavailableError) as caught:
        run(http.call("deribit", "index_price", {}))
    assert URL not in str(caught.value)


def test_placing_and_editing_are_never_retried(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{URL}/tools/place_combo_order", status_code=503)
    httpx_mock.add_response(url=f"{URL}/tools/edit_order", status_code=503)
    http, slept = make_http()
    client = DeribitClient(http, WallClock(), AnomalyConfig())
    legs = [{"instrument_name": "ETH-X-1-P", "direction": "sell"}]
    with pytest.raises(McpUnavailableError):
        run(client.place_combo_order(legs, "sell", 1, Decimal("0.005"), "bite-x"))
    with pytest.raises(McpUnavailableError):
        run(client.edit_order("o1", Decimal("0.004")))
    assert slept == []
    assert http.stats().total == 2


def test_cancel_is_retried_like_a_read(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{URL}/tools/cancel_order", status_code=502)
    httpx_mock.add_response(
        url=f"{URL}/tools/cancel_order",
        json={
            "order_id": "o1",
            "order_state": "cancelled",
            "amount": 3,
            "filled_amount": 1,
            "price": 0.005,
            "label": "bite-x",
            "direction": "sell",
        },
    )
    http, slept = make_http()
    order = run(DeribitClient(http, WallClock(), AnomalyConfig()).cancel_order("o1"))
    assert (order.state, order.filled_amount) == ("cancelled", 1)
    assert slept == [1]


def test_a_body_that_is_not_json_is_a_protocol_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{URL}/tools/index_price", content=b"<html>oops")
    http, _ = make_http()
    with pytest.raises(McpProtocolError):
        run(http.call("deribit", "index_price", {}))


def test_the_bearer_token_and_the_virtual_time_travel_in_headers(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{URL}/tools/environment", json={"environment": "paper"})
    clock = VirtualClock(datetime(2026, 3, 2, 14, tzinfo=UTC))
    http, _ = make_http(clock)
    run(http.call("deribit", "environment", {}))
    request = httpx_mock.get_requests()[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-Bite-Now"] == "2026-03-02T14:00:00.000000Z"


def test_the_wall_clock_sends_no_time_header(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{URL}/tools/environment", json={"environment": "paper"})
    http, _ = make_http()
    run(http.call("deribit", "environment", {}))
    assert "X-Bite-Now" not in httpx_mock.get_requests()[0].headers


def _instrument_rows(quotes: Any) -> list[dict[str, Any]]:
    """The snapshot's options as rows of Deribit's ``get_instruments``."""
    return [
        {
            "instrument_name": q.name,
            "kind": "option",
            "strike": float(q.strike),
            "option_type": q.option_type,
            "expiration_timestamp": int(q.expiry.timestamp() * 1000),
            "tick_size": 0.0001,
            "tick_size_steps": [{"above_price": 0.005, "tick_size": 0.0005}],
            "min_trade_amount": 1,
            "is_active": True,
        }
        for q in quotes
    ]


def test_a_chain_window_holds_whether_or_not_the_service_honours_it(
    httpx_mock: HTTPXMock,
) -> None:
    """The expiry window is a hint: a service that answers with every option (as Deribit
    does) still gives the client only the window's, and the hint was sent."""
    from tests.support import book_summary_rows, load_chain_snapshot

    _, _, quotes = load_chain_snapshot()
    instruments = _instrument_rows(quotes)
    rows = book_summary_rows(quotes)
    httpx_mock.add_response(url=f"{URL}/tools/instruments", json=instruments)
    httpx_mock.add_response(url=f"{URL}/tools/book_summary", json=rows)
    http, _ = make_http()
    client = DeribitClient(http, WallClock(), AnomalyConfig(dvol_min=1, iv_max=1000))
    window = (datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 13, tzinfo=UTC))
    chain = run(client.chain(window))
    expiries = {q.expiry.date().isoformat() for q in chain.quotes}
    assert expiries == {"2025-12-05", "2025-12-12"}
    hint = (int(window[0].timestamp() * 1000), int(window[1].timestamp() * 1000))
    for tool in ("instruments", "book_summary"):
        [request] = [r for r in httpx_mock.get_requests() if r.url.path.endswith(f"/{tool}")]
        sent = json.loads(request.content)
        assert (sent["expiry_from"], sent["expiry_to"]) == hint, tool


def test_a_ticker_outside_the_chain_window_asks_for_the_whole_listing(
    httpx_mock: HTTPXMock,
) -> None:
    """A service that honours the window lists only its options; a leg outside it
    (a position opened weeks ago) is found by asking again for everything."""
    from tests.support import book_summary_rows, load_chain_snapshot

    _, _, quotes = load_chain_snapshot()
    window = (datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 13, tzinfo=UTC))
    inside = [q for q in quotes if window[0] <= q.expiry <= window[1]]
    far = next(q for q in quotes if q.expiry > window[1])
    httpx_mock.add_response(url=f"{URL}/tools/instruments", json=_instrument_rows(inside))
    httpx_mock.add_response(url=f"{URL}/tools/book_summary", json=book_summary_rows(inside))
    httpx_mock.add_response(url=f"{URL}/tools/instruments", json=_instrument_rows(quotes))
    httpx_mock.add_response(url=f"{URL}/tools/ticker", json=[])  # its answer is not the point
    http, _ = make_http()
    client = DeribitClient(http, WallClock(), AnomalyConfig(dvol_min=1, iv_max=1000))
    assert len(run(client.chain(window)).quotes) == len(inside)
    with pytest.raises(McpProtocolError, match="ticker"):  # reached: the leg was found
        run(client.ticker(far.name))
    asked = [
        json.loads(r.content)
        for r in httpx_mock.get_requests()
        if r.url.path.endswith("/instruments")
    ]
    assert ["expiry_from" in a for a in asked] == [True, False]
