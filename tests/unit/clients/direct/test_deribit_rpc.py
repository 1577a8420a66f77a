"""The direct Deribit connector against recorded Deribit answers (pytest-httpx)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bite.clock import VirtualClock
from bite.config.loader import load_config
from bite.config.schema import StrategyConfig
from bite.context import Clients, open_clients, open_state
from bite.errors import (
    McpAuthError,
    McpComboUnavailableError,
    McpUnavailableError,
)
from bite.jobs.boot import EnvironmentMismatchError, boot, check_environment
from bite.safety.config_approval import approve
from pytest_httpx import HTTPXMock

from tests.support import FIXTURES

TEST = "https://test.deribit.com/api/v2"
MAIN = "https://www.deribit.com/api/v2"
SECRET = "planted-SECRET-xyz"
ENV = {
    "CERBERO_BITE_DERIBIT_CLIENT_ID": "client-id-1",
    "CERBERO_BITE_DERIBIT_CLIENT_SECRET": SECRET,
}
R = TypeVar("R")


def envelope(result: Any, testnet: bool = True) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "result": result,
        "testnet": testnet,
        "usIn": 1,
        "usOut": 2,
        "usDiff": 1,
    }


def cfg(environment: str = "testnet", **deribit: Any) -> StrategyConfig:
    data: dict[str, Any] = {
        "execution": {"environment": environment, "retry_waits_s": [0, 0], "allow_mainnet": True},
        "services": {"deribit": {"transport": "direct", **deribit}},
    }
    for name in ("hyperliquid", "macro", "sentiment"):
        data["services"][name] = {"url": f"http://127.0.0.1:1/{name}"}
    return StrategyConfig.model_validate(data)


def run(config: StrategyConfig, body: Callable[[Clients], Awaitable[R]], tmp_path: Path) -> R:
    async def main() -> R:
        clients = open_clients(
            config,
            VirtualClock(datetime(2025, 11, 22, 2, tzinfo=UTC)),
            tmp_path,
            environ=ENV,
            notify=False,
        )
        try:
            return await body(clients)
        finally:
            await clients.aclose()

    return asyncio.run(main())


def auth(httpx_mock: HTTPXMock, base: str = TEST, expires: int = 900) -> None:
    httpx_mock.add_response(
        url=f"{base}/public/auth",
        json=envelope(
            {
                "access_token": "access-TOKEN-1",
                "expires_in": expires,
                "refresh_token": "r",
                "scope": "trade:read_write",
            }
        ),
        is_reusable=True,
    )


def test_the_environment_is_the_testnet_flag_of_a_public_call(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(url=f"{TEST}/public/get_time", json=envelope(1700000000000))
    httpx_mock.add_response(url=f"{TEST}/public/status", json=envelope({"locked": "false"}))

    async def body(c: Clients) -> str:
        return await c.deribit.environment()

    assert run(cfg(), body, tmp_path) == "testnet"


def test_a_mismatch_ends_the_run_before_any_private_call(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(url=f"{TEST}/public/get_time", json=envelope(1, testnet=False))
    httpx_mock.add_response(url=f"{TEST}/public/status", json=envelope({"locked": "false"}))
    config_path = tmp_path / "strategy.yaml"
    config_path.write_text(
        "execution:\n  environment: testnet\nservices:\n  deribit:\n    transport: direct\n"
        "  hyperliquid:\n    url: http://127.0.0.1:1/h\n  macro:\n    url: http://127.0.0.1:1/m\n"
        "  sentiment:\n    url: http://127.0.0.1:1/s\n",
        encoding="utf-8",
    )

    async def main() -> tuple[bool, str | None]:
        clock = VirtualClock(datetime(2025, 11, 22, 2, tzinfo=UTC))
        state = open_state(tmp_path / "data")
        approve(state.repo, state.audit, load_config(config_path), clock.now(), by="operator")
        state.close()
        run_ = await boot(
            "entry-run",
            "entry",
            config_path,
            tmp_path / "data",
            clock,
            dry_run=False,
            environ=ENV,
            notify=False,
        )
        try:
            with pytest.raises(EnvironmentMismatchError):
                await check_environment(run_)
            switch = run_.state.kill_switch.status()
            return switch.armed, switch.kind
        finally:
            await run_.clients.aclose()
            run_.state.close()

    assert asyncio.run(main()) == (True, "integrity")
    assert all(
        "/private/" not in str(r.url) and "/public/auth" not in str(r.url)
        for r in httpx_mock.get_requests()
    )


def test_public_data_comes_from_mainnet_while_the_account_stays_on_testnet(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    data = json.loads((FIXTURES / "deribit/ticker_option_ws_ETH-30JUL21-2800-C.json").read_text())[
        "params"
    ]["data"]
    instruments = json.loads(
        (FIXTURES / "deribit/get_instruments_ETH_2021-07-22.json").read_text()
    )["result"]
    httpx_mock.add_response(
        url=f"{MAIN}/public/get_instruments", json=envelope(instruments, testnet=False)
    )
    httpx_mock.add_response(url=f"{MAIN}/public/ticker", json=envelope(data, testnet=False))
    auth(httpx_mock)
    httpx_mock.add_response(
        url=f"{TEST}/private/get_account_summary",
        json=envelope(
            {
                "equity": 10.5,
                "available_funds": 9.0,
                "initial_margin": 1.5,
                "maintenance_margin": 1.0,
                "currency": "ETH",
            }
        ),
    )

    async def body(c: Clients) -> tuple[Any, Any]:
        q = await c.deribit.ticker("ETH-30JUL21-2800-C")
        return q, await c.deribit.account_summary()

    quote, account = run(cfg(), body, tmp_path)
    assert quote.bid == Decimal("0.0015")
    assert quote.greeks is not None
    assert account.equity == Decimal("10.5")
    private = [r for r in httpx_mock.get_requests() if "/private/" in str(r.url)]
    assert private and all(str(r.url).startswith(TEST) for r in private)
    assert private[0].headers["Authorization"] == "Bearer access-TOKEN-1"
    public = [
        r
        for r in httpx_mock.get_requests()
        if "/public/get_instruments" in str(r.url) or "/public/ticker" in str(r.url)
    ]
    assert all(str(r.url).startswith(MAIN) for r in public)
    assert all("Authorization" not in r.headers for r in public)


def test_the_chain_windows_hint_stays_in_the_connector(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    """Deribit has no expiry filter: ``expiry_from``/``expiry_to`` never reach it, and the
    client keeps only the window's options from whatever comes back."""
    instruments = json.loads(
        (FIXTURES / "deribit/get_instruments_ETH_2021-07-22.json").read_text()
    )["result"]
    httpx_mock.add_response(
        url=f"{MAIN}/public/get_instruments", json=envelope(instruments, testnet=False)
    )
    httpx_mock.add_response(
        url=f"{MAIN}/public/get_book_summary_by_currency", json=envelope([], testnet=False)
    )
    window = (datetime(2021, 7, 23, tzinfo=UTC), datetime(2021, 8, 1, tzinfo=UTC))

    async def body(c: Clients) -> Any:
        chain = await c.deribit.chain(window)
        return chain, await c.deribit.instruments()

    chain, known = run(cfg(), body, tmp_path)
    assert chain.quotes == ()
    assert len(known) == len([r for r in instruments if r["kind"] == "option"])
    sent = [json.loads(r.content)["params"] for r in httpx_mock.get_requests()]
    assert [sorted(p) for p in sent] == [
        ["currency", "expired", "kind"],
        ["currency", "kind"],
    ]


def test_the_token_is_refreshed_when_it_expires(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    auth(httpx_mock, expires=0)
    httpx_mock.add_response(
        url=f"{TEST}/private/get_positions", json=envelope([]), is_reusable=True
    )

    async def body(c: Clients) -> None:
        await c.deribit.positions()
        await c.deribit.positions()

    run(cfg(), body, tmp_path)
    auths = [r for r in httpx_mock.get_requests() if "/public/auth" in str(r.url)]
    assert len(auths) == 2


def test_refused_credentials_are_an_auth_error_without_the_secret(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    httpx_mock.add_response(
        url=f"{TEST}/public/auth",
        json={"jsonrpc": "2.0", "error": {"code": 13004, "message": "invalid_credentials"}},
    )

    async def body(c: Clients) -> None:
        await c.deribit.positions()

    with pytest.raises(McpAuthError) as caught:
        run(cfg(), body, tmp_path)
    assert SECRET not in str(caught.value)


def test_a_rate_limit_is_retried_for_reads(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    limited = json.loads((FIXTURES / "deribit/error_too_many_requests.json").read_text())
    httpx_mock.add_response(url=f"{MAIN}/public/get_index_price", json=limited)
    httpx_mock.add_response(
        url=f"{MAIN}/public/get_index_price",
        json=envelope({"index_price": 2758.38, "estimated_delivery_price": 2758.38}, testnet=False),
    )

    async def body(c: Clients) -> Decimal:
        return (await c.deribit.index_price())[0]

    assert run(cfg(), body, tmp_path) == Decimal("2758.38")


def test_a_rate_limit_that_persists_is_unavailable(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    limited = json.loads((FIXTURES / "deribit/error_too_many_requests.json").read_text())
    httpx_mock.add_response(url=f"{MAIN}/public/get_index_price", json=limited, is_reusable=True)

    async def body(c: Clients) -> None:
        await c.deribit.index_price()

    with pytest.raises(McpUnavailableError):
        run(cfg(), body, tmp_path)


SHORT, LONG = "ETH-5DEC25-2400-P", "ETH-5DEC25-2200-P"


def combo_book(httpx_mock: HTTPXMock, combo_id: str) -> None:
    """``private/create_combo`` hands back an active put-spread book, short leg +1."""
    httpx_mock.add_response(
        url=f"{TEST}/private/create_combo",
        json=envelope(
            {
                "id": combo_id,
                "state": "active",
                "legs": [
                    {"instrument_name": SHORT, "amount": 1},
                    {"instrument_name": LONG, "amount": -1},
                ],
            }
        ),
    )


LEGS = [
    {"instrument_name": SHORT, "direction": "sell"},
    {"instrument_name": LONG, "direction": "buy"},
]


def combo_order(direction: str, price: float, state: str = "open") -> dict[str, Any]:
    return {
        "order_id": "ETH-1",
        "instrument_name": "ETH-PS-5DEC25-2400_2200",
        "order_state": state,
        "direction": direction,
        "amount": 3.0,
        "filled_amount": 3.0 if state == "filled" else 0.0,
        "price": price,
        "average_price": price if state == "filled" else 0.0,
        "label": "bite-p1",
        "creation_timestamp": 1763777713871,
        "last_update_timestamp": 1763777713871,
    }


@pytest.mark.parametrize(
    ("short_sign", "method", "sent_price"),
    [
        (-1, "buy", -0.0085),  # the combo points our way: buy it at a negative price
        (1, "sell", 0.0085),  # the combo points the other way: sell it at a positive price
    ],
)
def test_a_credit_spread_is_placed_in_either_combo_orientation(
    httpx_mock: HTTPXMock, tmp_path: Path, short_sign: int, method: str, sent_price: float
) -> None:
    auth(httpx_mock)
    combo = {
        "id": "ETH-PS-5DEC25-2400_2200",
        "state": "active",
        "legs": [
            {"instrument_name": SHORT, "amount": short_sign},
            {"instrument_name": LONG, "amount": -short_sign},
        ],
    }
    httpx_mock.add_response(url=f"{TEST}/private/create_combo", json=envelope(combo))
    httpx_mock.add_response(
        url=f"{TEST}/private/{method}",
        json=envelope({"order": combo_order(method, sent_price), "trades": []}),
    )

    async def body(c: Clients) -> Any:
        return await c.deribit.place_combo_order(LEGS, "sell", 3, Decimal("0.0085"), "bite-p1")

    result = run(cfg(), body, tmp_path)
    sent = json.loads(
        next(r for r in httpx_mock.get_requests() if f"/private/{method}" in str(r.url)).content
    )["params"]
    assert sent["price"] == pytest.approx(sent_price)
    assert (sent["instrument_name"], sent["label"], sent["amount"]) == (
        "ETH-PS-5DEC25-2400_2200",
        "bite-p1",
        3,
    )
    assert result.order.direction == "sell"  # back in the contract's orientation
    assert result.order.price == Decimal("0.0085")


def active_combo(state: str = "active") -> dict[str, Any]:
    return {
        "id": "ETH-PS-5DEC25-2400_2200",
        "state": state,
        "legs": [
            {"instrument_name": SHORT, "amount": -1},
            {"instrument_name": LONG, "amount": 1},
        ],
    }


def test_an_inactive_combo_is_created_once_more(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    auth(httpx_mock)
    httpx_mock.add_response(
        url=f"{TEST}/private/create_combo", json=envelope(active_combo("inactive"))
    )
    httpx_mock.add_response(url=f"{TEST}/private/create_combo", json=envelope(active_combo()))
    httpx_mock.add_response(
        url=f"{TEST}/private/buy",
        json=envelope({"order": combo_order("buy", -0.0085), "trades": []}),
    )

    async def body(c: Clients) -> Any:
        return await c.deribit.place_combo_order(LEGS, "sell", 3, Decimal("0.0085"), "bite-p1")

    result = run(cfg(), body, tmp_path)
    creates = [r for r in httpx_mock.get_requests() if "create_combo" in str(r.url)]
    assert len(creates) == 2
    assert (result.order.state, result.order.direction) == ("open", "sell")


@pytest.mark.parametrize("refusal", ["13035", "inactive"])
def test_a_combo_refused_twice_is_unavailable_and_no_order_is_sent(
    httpx_mock: HTTPXMock, tmp_path: Path, refusal: str
) -> None:
    auth(httpx_mock)
    answer = (
        {"jsonrpc": "2.0", "error": {"code": 13035, "message": "active_combo_limit_reached"}}
        if refusal == "13035"
        else envelope(active_combo("inactive"))
    )
    httpx_mock.add_response(url=f"{TEST}/private/create_combo", json=answer, is_reusable=True)

    async def body(c: Clients) -> Any:
        return await c.deribit.place_combo_order(LEGS, "sell", 3, Decimal("0.0085"), "bite-p1")

    with pytest.raises(McpComboUnavailableError):
        run(cfg(), body, tmp_path)
    urls = [str(r.url) for r in httpx_mock.get_requests()]
    assert sum("create_combo" in u for u in urls) == 2
    assert not any(u.endswith(("/private/buy", "/private/sell")) for u in urls)


def leg_trade(trade_id: str, instrument: str, direction: str, **extra: Any) -> dict[str, Any]:
    # the trade fields of Deribit API v2 (reference: trade_id, order_id, instrument_name,
    # direction, amount, price, fee, fee_currency, label, combo_id, timestamp)
    return {
        "trade_id": trade_id,
        "order_id": extra.pop("order_id", "LEG-" + trade_id),
        "instrument_name": instrument,
        "direction": direction,
        "amount": 3.0,
        "price": 0.0215 if instrument == SHORT else 0.013,
        "fee": 0.0009,
        "fee_currency": "ETH",
        "timestamp": 1763777714000,
        **extra,
    }


def test_combo_fills_are_matched_by_combo_id_when_the_order_id_finds_none(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    auth(httpx_mock)
    httpx_mock.add_response(url=f"{TEST}/private/get_user_trades_by_order", json=envelope([]))
    httpx_mock.add_response(
        url=f"{TEST}/private/get_order_state", json=envelope(combo_order("sell", 0.0085, "filled"))
    )
    combo = "ETH-PS-5DEC25-2400_2200"
    window = [
        leg_trade("T1", SHORT, "sell", combo_id=combo),
        leg_trade("T2", LONG, "buy", combo_id=combo),
        leg_trade("T3", "ETH-5DEC25-3000-C", "sell", combo_id="ETH-CS-5DEC25-3000_3200"),
        leg_trade("T4", LONG, "buy", label="bite-p1"),  # by label
        leg_trade("T5", SHORT, "sell", order_id="ETH-1"),  # by order id
        leg_trade("T6", SHORT, "buy", combo_id=combo),  # this combo, the other direction
        leg_trade("T7", LONG, "buy", combo_id=combo, timestamp=1763777799000),  # later
    ]
    httpx_mock.add_response(
        url=f"{MAIN}/public/get_combo_details",
        json=envelope(
            {
                "id": combo,
                "legs": [
                    {"instrument_name": SHORT, "amount": 1},
                    {"instrument_name": LONG, "amount": -1},
                ],
            },
            testnet=False,
        ),
    )
    httpx_mock.add_response(
        url=f"{TEST}/private/get_user_trades_by_currency_and_time",
        json=envelope({"trades": window, "has_more": False}),
    )

    async def body(c: Clients) -> Any:
        return await c.deribit.trades_by_order("ETH-1")

    trades = run(cfg(), body, tmp_path)
    assert [t.trade_id for t in trades] == ["T1", "T2", "T4", "T5"]
    asked = json.loads(
        next(r for r in httpx_mock.get_requests() if "and_time" in str(r.url)).content
    )["params"]
    assert (asked["start_timestamp"], asked["end_timestamp"]) == (1763777713871, 1763777714871)


def test_an_unfilled_order_asks_for_no_trade_window(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    auth(httpx_mock)
    httpx_mock.add_response(url=f"{TEST}/private/get_user_trades_by_order", json=envelope([]))
    httpx_mock.add_response(
        url=f"{TEST}/private/get_order_state", json=envelope(combo_order("sell", 0.0085, "open"))
    )

    async def body(c: Clients) -> Any:
        return await c.deribit.trades_by_order("ETH-1")

    assert run(cfg(), body, tmp_path) == []
    assert not any("and_time" in str(r.url) for r in httpx_mock.get_requests())


@pytest.mark.parametrize(
    ("short_sign", "label", "direction", "deribit_price", "our_side"),
    [
        (-1, "bite-p1", "buy", -0.0080, "sell"),  # entry, the combo our way
        (1, "bite-p1", "sell", 0.0080, "sell"),  # entry, the combo the other way
        (-1, "bite-p1-x1", "sell", -0.0080, "buy"),  # exit, the combo our way
        (1, "bite-p1-x1", "buy", 0.0080, "buy"),  # exit, the combo the other way
    ],
)
@pytest.mark.parametrize("told", [True, False], ids=["legs told", "from the label"])
def test_an_edit_takes_its_sign_from_the_orders_combo(
    httpx_mock: HTTPXMock,
    tmp_path: Path,
    short_sign: int,
    label: str,
    direction: str,
    deribit_price: float,
    our_side: str,
    told: bool,
) -> None:
    exit_ = "-x" in label
    legs = [
        {"instrument_name": SHORT, "direction": "buy" if exit_ else "sell"},
        {"instrument_name": LONG, "direction": "sell" if exit_ else "buy"},
    ]
    if told:  # the job says what each leg trades: the label is not read at all
        label = "placed-by-hand"

    def order(price: float) -> dict[str, Any]:
        return {**combo_order(direction, price), "label": label}

    auth(httpx_mock)
    combo = "ETH-PS-5DEC25-2400_2200"
    httpx_mock.add_response(
        url=f"{TEST}/private/get_order_state",
        json=envelope(order(deribit_price / 0.0080 * 0.0085)),
    )
    httpx_mock.add_response(
        url=f"{MAIN}/public/get_combo_details",
        json=envelope(
            {
                "id": combo,
                "legs": [
                    {"instrument_name": SHORT, "amount": short_sign},
                    {"instrument_name": LONG, "amount": -short_sign},
                ],
            },
            testnet=False,
        ),
    )
    httpx_mock.add_response(
        url=f"{TEST}/private/edit",
        json=envelope({"order": order(deribit_price), "trades": []}),
    )

    async def body(c: Clients) -> Any:
        edited = await c.deribit.edit_order("ETH-1", Decimal("0.0080"), legs if told else None)
        listed = await c.deribit.orders_by_label(label)
        return edited, listed

    httpx_mock.add_response(
        url=f"{TEST}/private/get_order_state_by_label",
        json=envelope([order(deribit_price)]),
    )
    edited, listed = run(cfg(), body, tmp_path)
    sent = json.loads(
        next(r for r in httpx_mock.get_requests() if "/private/edit" in str(r.url)).content
    )["params"]
    assert sent["price"] == pytest.approx(deribit_price)
    # back in the contract's orientation, whichever way the combo points
    assert (edited.order.direction, edited.order.price) == (our_side, Decimal("0.008"))
    assert [(o.direction, o.price) for o in listed] == [(our_side, Decimal("0.008"))]


def test_a_cancel_racing_a_fill_returns_the_filled_order(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    auth(httpx_mock)
    httpx_mock.add_response(
        url=f"{TEST}/private/cancel",
        json={"jsonrpc": "2.0", "error": {"code": 11008, "message": "already_filled"}},
    )
    httpx_mock.add_response(
        url=f"{TEST}/private/get_order_state", json=envelope(combo_order("sell", 0.0085, "filled"))
    )
    httpx_mock.add_response(
        url=f"{MAIN}/public/get_combo_details",
        json=envelope(
            {
                "id": "ETH-PS-5DEC25-2400_2200",
                "legs": [
                    {"instrument_name": SHORT, "amount": 1},
                    {"instrument_name": LONG, "amount": -1},
                ],
            },
            testnet=False,
        ),
    )

    async def body(c: Clients) -> Any:
        return await c.deribit.cancel_order("ETH-1")

    order = run(cfg(), body, tmp_path)
    assert (order.state, order.filled_amount, order.direction) == ("filled", 3, "sell")


def test_a_venue_refusal_is_a_rejected_order_not_an_error(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    auth(httpx_mock)
    combo_book(httpx_mock, "C1")
    httpx_mock.add_response(
        url=f"{TEST}/private/sell",
        json={"jsonrpc": "2.0", "error": {"code": 10009, "message": "not_enough_funds"}},
    )

    async def body(c: Clients) -> Any:
        return await c.deribit.place_combo_order(LEGS, "sell", 3, Decimal("0.0085"), "bite-p1")

    result = run(cfg(), body, tmp_path)
    assert (result.order.state, result.order.reject_reason) == ("rejected", "not_enough_funds")


def test_the_secret_never_leaves_the_auth_call(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    auth(httpx_mock)
    httpx_mock.add_response(url=f"{TEST}/private/get_positions", json=envelope([]))

    async def body(c: Clients) -> None:
        await c.deribit.positions()

    run(cfg(), body, tmp_path)
    for request in httpx_mock.get_requests():
        if "/public/auth" not in str(request.url):
            assert SECRET.encode() not in request.content
            assert SECRET not in str(request.headers)


def test_the_margin_estimate_sums_each_legs_margin(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    auth(httpx_mock)
    httpx_mock.add_response(
        url=f"{MAIN}/public/ticker",
        json=envelope({"mark_price": 0.0125}, testnet=False),
        is_reusable=True,
    )
    httpx_mock.add_response(
        url=f"{TEST}/private/get_margins",
        json=envelope({"buy": 0.0, "sell": 0.3375, "min_price": 0.0001, "max_price": 0.2}),
    )
    httpx_mock.add_response(
        url=f"{TEST}/private/get_margins",
        json=envelope({"buy": 0.02, "sell": 0.31, "min_price": 0.0001, "max_price": 0.2}),
    )

    async def body(c: Clients) -> Decimal | None:
        return await c.deribit.margin_estimate(LEGS, 3, Decimal("0.0085"))

    assert run(cfg(), body, tmp_path) == Decimal("0.3575")  # the short's sell + the long's buy
    sent = [
        json.loads(r.content)["params"]
        for r in httpx_mock.get_requests()
        if "get_margins" in str(r.url)
    ]
    assert [p["instrument_name"] for p in sent] == [SHORT, LONG]
    assert all(p["amount"] == 3 for p in sent)


@pytest.mark.parametrize(
    ("code", "error", "exit_code", "name"),
    [
        (13009, McpAuthError, 2, "unauthorized"),
        (13403, McpAuthError, 2, "scope_exceeded"),
        (10028, McpUnavailableError, 75, "too_many_requests"),
        (10041, McpUnavailableError, 75, "settlement_in_progress"),
        (11051, McpUnavailableError, 75, "system_maintenance"),
        (13028, McpUnavailableError, 75, "temporarily_unavailable"),
    ],
)
def test_errors_are_matched_on_their_numeric_code_never_the_message(
    httpx_mock: HTTPXMock,
    tmp_path: Path,
    code: int,
    error: type[Exception],
    exit_code: int,
    name: str,
) -> None:
    wrong_text = {"code": code, "message": "invalid_argument"}  # the errors article's mislabel
    httpx_mock.add_response(
        url=f"{TEST}/private/get_account_summary",
        json={"jsonrpc": "2.0", "error": wrong_text},
        is_reusable=True,
    )
    auth(httpx_mock)

    async def body(c: Clients) -> Any:
        return await c.deribit.account_summary()

    with pytest.raises(error) as caught:
        run(cfg(), body, tmp_path)
    assert int(caught.value.exit_code) == exit_code  # type: ignore[attr-defined]
    assert caught.value.code == name  # type: ignore[attr-defined]
    paused = name in ("settlement_in_progress", "system_maintenance", "temporarily_unavailable")
    assert caught.value.venue_paused is paused  # type: ignore[attr-defined]


@pytest.mark.parametrize(("code", "reason"), [(10009, "not_enough_funds"), (13030, "mmp_trigger")])
def test_an_order_refused_by_code_is_rejected_with_the_codes_name(
    httpx_mock: HTTPXMock, tmp_path: Path, code: int, reason: str
) -> None:
    auth(httpx_mock)
    combo_book(httpx_mock, "C1")
    httpx_mock.add_response(
        url=f"{TEST}/private/sell",
        json={"jsonrpc": "2.0", "error": {"code": code, "message": "some other words"}},
    )

    async def body(c: Clients) -> Any:
        return await c.deribit.place_combo_order(LEGS, "sell", 3, Decimal("0.0085"), "bite-p1")

    result = run(cfg(), body, tmp_path)
    assert (result.order.state, result.order.reject_reason) == ("rejected", reason)
    sent = [str(r.url) for r in httpx_mock.get_requests()]
    assert sent.count(f"{TEST}/private/sell") == 1  # never retried


def test_a_label_already_taken_adopts_the_order_that_holds_it(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    auth(httpx_mock)
    combo_book(httpx_mock, "ETH-PS-5DEC25-2400_2200")
    httpx_mock.add_response(
        url=f"{TEST}/private/sell",
        json={"jsonrpc": "2.0", "error": {"code": 13032, "message": "non_unique_order_label"}},
    )
    httpx_mock.add_response(
        url=f"{TEST}/private/get_order_state_by_label",
        json=envelope([combo_order("sell", 0.0085)]),
    )

    async def body(c: Clients) -> Any:
        return await c.deribit.place_combo_order(LEGS, "sell", 3, Decimal("0.0085"), "bite-p1")

    result = run(cfg(), body, tmp_path)
    assert (result.order.order_id, result.order.state) == ("ETH-1", "open")


@pytest.mark.parametrize(
    ("status", "locked"),
    [
        ({"locked": "false"}, False),
        ({"locked": "true"}, True),
        ({"locked": "partial", "locked_indices": ["btc_usd"]}, False),
        ({"locked": "partial", "locked_indices": ["eth_usd"]}, True),
    ],
)
def test_the_platform_lock_comes_from_public_status(
    httpx_mock: HTTPXMock, tmp_path: Path, status: dict[str, Any], locked: bool
) -> None:
    httpx_mock.add_response(url=f"{TEST}/public/get_time", json=envelope(1700000000000))
    httpx_mock.add_response(url=f"{TEST}/public/status", json=envelope(status))

    async def body(c: Clients) -> Any:
        return await c.deribit.venue()

    venue = run(cfg(), body, tmp_path)
    assert (venue.environment, venue.locked) == ("testnet", locked)
    assert all("/public/auth" not in str(r.url) for r in httpx_mock.get_requests())


def test_the_key_scope_is_what_public_auth_granted(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    auth(httpx_mock)

    async def body(c: Clients) -> Any:
        return await c.deribit.key_scope()

    assert run(cfg(), body, tmp_path) == "trade:read_write"


def test_the_combo_tick_is_the_one_the_venue_lists_for_combos(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    listed = json.loads(
        (FIXTURES / "deribit/get_instruments_option_combo_testnet.json").read_text()
    )
    rows = [{**row, "tick_size": 0.0005} for row in listed["result"]]  # say ETH's were coarser
    httpx_mock.add_response(url=f"{MAIN}/public/get_instruments", json=envelope(rows))

    async def body(c: Clients) -> Any:
        return await c.deribit.combo_tick()

    assert run(cfg(), body, tmp_path) == Decimal("0.0005")
    [request] = httpx_mock.get_requests()
    assert json.loads(request.content)["params"] == {"currency": "ETH", "kind": "option_combo"}


def test_no_listed_combo_leaves_the_configured_tick(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_response(url=f"{MAIN}/public/get_instruments", json=envelope([]))

    async def body(c: Clients) -> Any:
        return await c.deribit.combo_tick()

    assert run(cfg(), body, tmp_path) is None


def test_the_hedges_tools_are_the_perpetuals_own_calls(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    """place_order is private/sell on ETH-PERPETUAL with the hedge's label (no combo),
    position is private/get_position, and an edit moves the price as given."""
    auth(httpx_mock)
    perp = {
        "order_id": "ETH-77",
        "instrument_name": "ETH-PERPETUAL",
        "label": "bite-h202511220200",
        "direction": "sell",
        "amount": 3000.0,
        "filled_amount": 0.0,
        "price": 2760.5,
        "average_price": 0.0,
        "order_state": "open",
        "creation_timestamp": 1763776800000,
        "last_update_timestamp": 1763776800000,
    }
    httpx_mock.add_response(
        url=f"{TEST}/private/sell", json=envelope({"order": perp, "trades": []})
    )
    httpx_mock.add_response(url=f"{TEST}/private/get_order_state", json=envelope(perp))
    httpx_mock.add_response(
        url=f"{TEST}/private/edit",
        json=envelope({"order": {**perp, "price": 2758.6}, "trades": []}),
    )
    httpx_mock.add_response(
        url=f"{TEST}/private/get_position",
        json=envelope(
            {
                "instrument_name": "ETH-PERPETUAL",
                "kind": "future",
                "size": -3000.0,
                "direction": "sell",
                "average_price": 2760.5,
                "floating_profit_loss": 0.0001,
                "realized_profit_loss": 0.0,
                "realized_funding": 0.00002,
                "initial_margin": 0.0218,
            }
        ),
    )

    async def body(c: Clients) -> Any:
        placed = await c.deribit.place_order(
            "ETH-PERPETUAL", "sell", 3000, Decimal("2760.5"), "bite-h202511220200"
        )
        edited = await c.deribit.edit_order("ETH-77", Decimal("2758.6"))
        held = await c.deribit.perp_position("ETH-PERPETUAL")
        return placed, edited, held

    placed, edited, held = run(cfg(), body, tmp_path)
    sent = {
        str(r.url).rsplit("/", 1)[-1]: json.loads(r.content)["params"]
        for r in httpx_mock.get_requests()
        if "/private/" in str(r.url) and "get_order_state" not in str(r.url)
    }
    assert sent["sell"] == {
        "instrument_name": "ETH-PERPETUAL",
        "amount": 3000,
        "type": "limit",
        "price": 2760.5,
        "label": "bite-h202511220200",
        "time_in_force": "good_til_cancelled",
    }
    assert sent["edit"] == {"order_id": "ETH-77", "amount": 3000.0, "price": 2758.6}
    assert (placed.order.label, placed.order.direction) == ("bite-h202511220200", "sell")
    assert edited.order.price == Decimal("2758.6")
    assert (held.size_usd, held.realized_funding_eth) == (Decimal(-3000), Decimal("0.00002"))
