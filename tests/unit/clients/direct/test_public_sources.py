"""Hyperliquid, ECB, Fear & Greed and the calendar file behind the unchanged clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bite.clients.direct.public_sources import ECB, FEAR_GREED, HYPERLIQUID, read_calendar
from bite.clock import VirtualClock
from bite.config.schema import StrategyConfig
from bite.context import Clients, open_clients
from bite.core.entry_validator import validate_entry
from bite.errors import McpProtocolError, McpRequestError, McpUnavailableError
from pytest_httpx import HTTPXMock

from tests.support import FIXTURES, good_entry_context
from tests.unit.clients.direct.public_support import ECB_XML

ROOT = Path(__file__).resolve().parents[4]
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
R = TypeVar("R")

# the shape of the ECB's eurofxref-daily.xml (a constructed answer: namespaces, the
# dated Cube, one Cube per currency, as the ECB publishes it)


def ecb_xml(day: str = "2026-11-23") -> bytes:
    return ECB_XML.replace(b"DAY", day.encode())


# alternative.me's /fng/ shape (a constructed answer)
FNG_BODY = {
    "name": "Fear and Greed Index",
    "data": [{"value": "38", "value_classification": "Fear", "timestamp": "1795392000"}],
}


def cfg(tmp_path: Path, calendar: str | None = None) -> StrategyConfig:
    services: dict[str, Any] = {
        "deribit": {"url": "http://127.0.0.1:1/deribit"},
        "hyperliquid": {"transport": "direct", "user_address": "0xabc"},
        "macro": {"transport": "direct", "calendar_file": calendar},
        "sentiment": {"transport": "direct"},
    }
    return StrategyConfig.model_validate(
        {"execution": {"environment": "testnet", "retry_waits_s": [0]}, "services": services}
    )


def run(config: StrategyConfig, tmp_path: Path, body: Callable[[Clients], Awaitable[R]]) -> R:
    async def main() -> R:
        clients = open_clients(
            config, VirtualClock(NOW), tmp_path, config_dir=ROOT, environ={}, notify=False
        )
        try:
            return await body(clients)
        finally:
            await clients.aclose()

    return asyncio.run(main())


def funding_history(coin: str = "ETH") -> list[dict[str, Any]]:
    """Real hourly ``fundingHistory`` rows (recorded for BTC), relabelled as ``coin``."""
    rows = json.loads(
        (FIXTURES / "hyperliquid/fundingHistory_BTC_last48_2023-07-17.json").read_text()
    )
    return [{**row, "coin": coin} for row in rows]


def test_funding_is_the_last_paid_rate_with_its_own_time(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    data = json.loads(
        (FIXTURES / "hyperliquid/metaAndAssetCtxs_testnet_2024-12-21.json").read_text()
    )
    rows = funding_history()
    rows[-1] = {**rows[-1], "fundingRate": "0.0000311"}
    httpx_mock.add_response(url=HYPERLIQUID, match_json={"type": "metaAndAssetCtxs"}, json=data)
    httpx_mock.add_response(url=HYPERLIQUID, json=rows)

    async def body(c: Clients) -> Any:
        return await c.hyperliquid.funding()

    funding = run(cfg(tmp_path), tmp_path, body)
    assert funding.mark_px == Decimal("3562.5")
    assert funding.open_interest > 0  # the ETH context's openInterest, not a placeholder
    assert funding.hourly == pytest.approx(0.0000311)  # the last row's, not the ctx's
    # the row's own time (2023-07-17 21:00 UTC), not the fetch time: staleness can bite
    assert funding.time == datetime(2023, 7, 17, 21, 0, 0, 65000, tzinfo=UTC)
    asked = [json.loads(r.content) for r in httpx_mock.get_requests()]
    history = next(a for a in asked if a["type"] == "fundingHistory")
    assert history["coin"] == "ETH"
    assert history["startTime"] == int((NOW - timedelta(hours=6)).timestamp() * 1000)


def test_no_recent_funding_row_is_a_source_failure(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(url=HYPERLIQUID, json=funding_history("BTC"), is_reusable=True)

    async def body(c: Clients) -> Any:
        return await c.hyperliquid.funding()

    with pytest.raises(McpUnavailableError, match="no ETH funding"):
        run(cfg(tmp_path), tmp_path, body)


def test_account_value_reads_the_clearinghouse_state(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(url=HYPERLIQUID, json={"marginSummary": {"accountValue": "1234.5"}})

    async def body(c: Clients) -> Decimal:
        return await c.hyperliquid.account_value()

    assert run(cfg(tmp_path), tmp_path, body) == Decimal("1234.5")
    assert json.loads(httpx_mock.get_requests()[0].content)["user"] == "0xabc"


def test_eur_usd_is_the_ecbs_usd_reference_rate(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(url=ECB, content=ecb_xml())

    async def body(c: Clients) -> Any:
        return await c.macro.eur_usd()

    rate = run(cfg(tmp_path), tmp_path, body)
    assert rate.rate == Decimal("1.0448")
    assert rate.time == datetime(2026, 11, 23, 15, tzinfo=UTC)  # dated 16:00 CET


def test_the_ecb_rate_is_kept_until_the_next_publication_is_due(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    # Friday's rate, read on Saturday, Sunday and Monday morning: one fetch; Monday
    # at 16:00 CET the next one may be out and the rate is fetched again
    httpx_mock.add_response(url=ECB, content=ecb_xml("2026-11-20"))
    httpx_mock.add_response(url=ECB, content=ecb_xml("2026-11-23"))
    clock = VirtualClock(datetime(2026, 11, 21, 9, tzinfo=UTC))

    async def main() -> list[datetime]:
        clients = open_clients(
            cfg(tmp_path), clock, tmp_path, config_dir=ROOT, environ={}, notify=False
        )
        seen = []
        try:
            for moment in ("2026-11-21T09:00", "2026-11-22T20:00", "2026-11-23T14:59"):
                clock.advance_to(datetime.fromisoformat(moment).replace(tzinfo=UTC))
                seen.append((await clients.macro.eur_usd()).time)
            clock.advance_to(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
            seen.append((await clients.macro.eur_usd()).time)
        finally:
            await clients.aclose()
        return seen

    seen = asyncio.run(main())
    assert seen[:3] == [datetime(2026, 11, 20, 15, tzinfo=UTC)] * 3
    assert seen[3] == datetime(2026, 11, 23, 15, tzinfo=UTC)
    assert len(httpx_mock.get_requests()) == 2


def test_every_direct_service_reaches_its_own_connector(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    # Deribit and the public sources both direct: each call must reach its own
    # connector (httpx matches mounts by host, so each connector has a host of its own)
    base = cfg(tmp_path).model_dump()
    base["services"]["deribit"] = {"transport": "direct"}
    config = StrategyConfig.model_validate(base)
    httpx_mock.add_response(url=ECB, content=ecb_xml())
    httpx_mock.add_response(url=f"{FEAR_GREED}?limit=1", json=FNG_BODY)

    async def body(c: Clients) -> Any:
        return (await c.macro.eur_usd()).rate, (await c.sentiment.fear_greed()).value

    assert run(config, tmp_path, body) == (Decimal("1.0448"), 38)


@pytest.mark.parametrize(
    "answer",
    [
        b"<html>maintenance</html>",
        b"not xml at all",
        ecb_xml().replace(b"USD", b"CHF"),
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><l>&a;</l>',
        ecb_xml() + b"<!--" + b"x" * 70_000 + b"-->",
    ],
)
def test_an_ecb_answer_without_a_dated_usd_rate_is_a_protocol_error(
    httpx_mock: HTTPXMock, tmp_path: Path, answer: bytes
) -> None:
    httpx_mock.add_response(url=ECB, content=answer)

    async def body(c: Clients) -> Any:
        return await c.macro.eur_usd()

    with pytest.raises(McpProtocolError):
        run(cfg(tmp_path), tmp_path, body)


def test_each_public_source_is_reached_at_its_services_url(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    base = cfg(tmp_path).model_dump()
    base["services"]["hyperliquid"]["url"] = "http://127.0.0.1:9/info"
    base["services"]["macro"]["url"] = "http://127.0.0.1:9/ecb.xml"
    base["services"]["sentiment"]["url"] = "http://127.0.0.1:9/fng/"
    config = StrategyConfig.model_validate(base)
    httpx_mock.add_response(
        url="http://127.0.0.1:9/info", json={"marginSummary": {"accountValue": "1"}}
    )
    httpx_mock.add_response(url="http://127.0.0.1:9/ecb.xml", content=ecb_xml())
    httpx_mock.add_response(url="http://127.0.0.1:9/fng/?limit=1", json=FNG_BODY)

    async def body(c: Clients) -> Any:
        return (
            await c.hyperliquid.account_value(),
            (await c.macro.eur_usd()).rate,
            (await c.sentiment.fear_greed()).value,
        )

    assert run(config, tmp_path, body) == (Decimal("1"), Decimal("1.0448"), 38)


def test_without_an_address_the_account_value_is_zero_said_once(
    httpx_mock: HTTPXMock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = cfg(tmp_path).model_dump()
    base["services"]["hyperliquid"]["user_address"] = None
    config = StrategyConfig.model_validate(base)

    async def body(c: Clients) -> Any:
        return [await c.hyperliquid.account_value() for _ in range(3)]

    with caplog.at_level("INFO", logger="bite.public_sources"):
        assert run(config, tmp_path, body) == [Decimal(0)] * 3
    said = [r for r in caplog.records if "user_address" in r.getMessage()]
    assert len(said) == 1
    assert httpx_mock.get_requests() == []  # nothing asked of Hyperliquid


def test_an_asset_price_is_the_deribit_index(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    # the envelope of public/get_index_price (Deribit API v2: result.index_price, usOut in µs)
    httpx_mock.add_response(
        url="https://www.deribit.com/api/v2/public/get_index_price?index_name=eth_usd",
        json={
            "jsonrpc": "2.0",
            "result": {"index_price": 2771.43, "estimated_delivery_price": 2771.43},
            "usIn": 1795602599999000,
            "usOut": 1795602600000000,
            "usDiff": 1000,
            "testnet": False,
        },
    )

    async def body(c: Clients) -> Any:
        return await c.macro.asset_price("ETH")

    price, when = run(cfg(tmp_path), tmp_path, body)
    assert price == Decimal("2771.43")
    assert when == datetime.fromtimestamp(1795602600, tz=UTC)


@pytest.mark.parametrize(
    ("status", "error", "asked"),
    [(503, McpUnavailableError, 2), (429, McpUnavailableError, 2), (404, McpRequestError, 1)],
)
def test_a_source_that_fails_over_http_maps_onto_the_error_tree(
    httpx_mock: HTTPXMock, tmp_path: Path, status: int, error: type[Exception], asked: int
) -> None:
    # an outage or a rate limit is unavailability (a read: retried once here), anything
    # else a refused request
    httpx_mock.add_response(url=ECB, status_code=status, is_reusable=True)

    async def body(c: Clients) -> Any:
        return await c.macro.eur_usd()

    with pytest.raises(error):
        run(cfg(tmp_path), tmp_path, body)
    assert len(httpx_mock.get_requests()) == asked


def test_a_deribit_index_answer_out_of_shape_is_a_protocol_error(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(
        url="https://www.deribit.com/api/v2/public/get_index_price?index_name=eth_usd",
        json={"jsonrpc": "2.0", "result": {"estimated_delivery_price": 2771.43}},
    )

    async def body(c: Clients) -> Any:
        return await c.macro.asset_price("ETH")

    with pytest.raises(McpProtocolError):
        run(cfg(tmp_path), tmp_path, body)


def test_fear_greed_comes_from_alternative_me(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(url=f"{FEAR_GREED}?limit=1", json=FNG_BODY)

    async def body(c: Clients) -> Any:
        return await c.sentiment.fear_greed()

    reading = run(cfg(tmp_path), tmp_path, body)
    assert (reading.value, reading.classification) == (38, "Fear")


def test_an_answer_out_of_shape_is_a_protocol_error(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(url=f"{FEAR_GREED}?limit=1", json={"data": []})

    async def body(c: Clients) -> Any:
        return await c.sentiment.fear_greed()

    with pytest.raises(McpProtocolError):
        run(cfg(tmp_path), tmp_path, body)


def eastern_offset_hours(day: date) -> int:
    """UTC minus US Eastern time on ``day``: 4 from the second Sunday of March to the
    first Sunday of November (EDT), else 5 (EST)."""
    march = date(day.year, 3, 1)
    dst_start = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
    november = date(day.year, 11, 1)
    dst_end = november + timedelta(days=(6 - november.weekday()) % 7)
    return 4 if dst_start <= day < dst_end else 5


def test_the_shipped_calendar_reads_and_reaches_past_next_year() -> None:
    events = read_calendar(ROOT / "docs" / "macro-calendar.yaml")
    fomc = [e for e in events if e.name == "FOMC rate decision"]
    cpi = [e for e in events if e.name == "US CPI"]
    assert (len(fomc), len(cpi), len(events)) == (17, 12, 29)
    assert all(e.impact == "high" and e.time.tzinfo is not None for e in events)
    # the statement at 2 p.m. Eastern, CPI at 8:30 a.m. Eastern, each in UTC as on its day
    for event in fomc:
        assert (event.time.hour, event.time.minute) == (
            14 + eastern_offset_hours(event.time.date()),
            0,
        )
    for event in cpi:
        assert (event.time.hour, event.time.minute) == (
            8 + eastern_offset_hours(event.time.date()),
            30,
        )
    assert fomc[0].time == datetime(2026, 1, 28, 19, tzinfo=UTC)  # 2 p.m. EST
    assert fomc[1].time == datetime(2026, 3, 18, 18, tzinfo=UTC)  # 2 p.m. EDT
    assert cpi[-1].time == datetime(2026, 12, 10, 13, 30, tzinfo=UTC)
    assert events == sorted(events, key=lambda e: e.time)
    assert events[-1].time > NOW + timedelta(days=365)


def test_the_calendar_tools_answer_from_the_file(tmp_path: Path) -> None:
    async def body(c: Clients) -> tuple[Any, Any]:
        events = await c.macro.calendar(NOW, NOW + timedelta(days=30), "high")
        return events, await c.macro.calendar_horizon()

    events, horizon = run(cfg(tmp_path, "docs/macro-calendar.yaml"), tmp_path, body)
    assert [(e.name, e.time) for e in events] == [
        ("FOMC rate decision", datetime(2026, 12, 9, 19, tzinfo=UTC)),
        ("US CPI", datetime(2026, 12, 10, 13, 30, tzinfo=UTC)),
    ]
    assert horizon.last_event == datetime(2028, 1, 26, 19, tzinfo=UTC)
    assert horizon.last_by_name == {
        "US CPI": datetime(2026, 12, 10, 13, 30, tzinfo=UTC),
        "FOMC rate decision": datetime(2028, 1, 26, 19, tzinfo=UTC),
    }


def test_a_calendar_ending_within_30_days_is_stale() -> None:
    base = StrategyConfig()
    fresh = good_entry_context(calendar_horizon=good_entry_context().now + timedelta(days=40))
    stale = good_entry_context(calendar_horizon=good_entry_context().now + timedelta(days=20))
    assert "calendar_stale" not in validate_entry(fresh, base).reasons
    assert "calendar_stale" in validate_entry(stale, base).reasons


def test_a_run_reads_the_calendar_file_once(tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.yaml"
    calendar.write_text(
        "events:\n  - {name: FOMC, time: '2026-12-09T19:00:00Z', impact: high}\n",
        encoding="utf-8",
    )

    async def body(c: Clients) -> Any:
        events = await c.macro.calendar(NOW, NOW + timedelta(days=30), "high")
        calendar.unlink()  # read already: the run's later questions need no second read
        return events, await c.macro.calendar_horizon()

    events, horizon = run(cfg(tmp_path, str(calendar)), tmp_path, body)
    assert [e.name for e in events] == ["FOMC"]
    assert horizon.last_event == datetime(2026, 12, 9, 19, tzinfo=UTC)
