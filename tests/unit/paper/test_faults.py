"""Every rule of the fault grammar, through the real client code (paper-exchange.md 4)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bite.clock import VirtualClock
from bite.context import Clients, check_paper_only_env
from bite.errors import (
    McpAuthError,
    McpDataAnomalyError,
    McpProtocolError,
    McpUnavailableError,
    UsageError,
)
from bite.paper.faults import parse_faults

from tests.paper_support import flat_config, with_clients


def faults(**rules: Any) -> dict[str, str]:
    return {
        "CERBERO_BITE_PAPER_FAULTS": json.dumps(
            {k.replace("__", ".").replace("_STAR", "*"): v for k, v in rules.items()}
        )
    }


def run(
    tmp_path: Path, env: dict[str, str], body: Any, cfg_extra: dict[str, Any] | None = None
) -> Any:
    return with_clients(flat_config(tmp_path, cfg_extra), tmp_path, body, environ=env)


def test_an_error_for_n_times_is_retried_by_reads(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> tuple[Decimal, int]:
        index, _ = await c.deribit.index_price()
        return index, c.http.stats().counts["deribit.index_price"]

    index, calls = run(tmp_path, faults(deribit__index_price={"error": 500, "times": 2}), body)
    assert index == Decimal("3000.0")
    assert calls == 3


def test_an_error_beyond_the_retries_fails_the_read(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> None:
        await c.deribit.index_price()

    with pytest.raises(McpUnavailableError):
        run(tmp_path, faults(deribit__index_price={"error": 503}), body)


def test_a_401_is_an_auth_error_never_retried(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> int:
        try:
            await c.deribit.account_summary()
        except McpAuthError:
            return c.http.stats().total
        return -1

    assert run(tmp_path, faults(deribit__account_summary={"error": 401}), body) == 1


def test_a_timeout_for_one_call_is_retried(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> int:
        await c.sentiment.fear_greed()
        return c.http.stats().total

    assert run(tmp_path, faults(sentiment__fear_greed={"timeout": True, "times": 1}), body) == 2


def test_a_malformed_answer_is_a_protocol_error(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> None:
        await c.macro.eur_usd()

    with pytest.raises(McpProtocolError):
        run(tmp_path, faults(macro__eur_usd_rate={"malformed": True}), body)


def test_latency_delays_the_answer_on_the_runs_clock(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> float:
        started = clock.now()
        await c.hyperliquid.funding()
        return (clock.now() - started).total_seconds()

    assert run(tmp_path, faults(hyperliquid__funding={"latency_ms": 60}), body) == 0.06


def test_an_override_of_mark_iv_makes_the_leg_anomalous(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> None:
        chain = await c.deribit.chain()
        await c.deribit.ticker(chain.quotes[0].name)

    with pytest.raises(McpDataAnomalyError, match="iv_out_of_range"):
        run(tmp_path, faults(deribit__ticker={"override": {"mark_iv": 7}}), body)


def test_an_override_on_the_chain_drops_the_rows(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> tuple[int, int]:
        chain = await c.deribit.chain()
        return len(chain.quotes), chain.dropped_anomalous

    kept, dropped = run(tmp_path, faults(deribit__book_summary={"override": {"mark_iv": 7}}), body)
    assert kept == 0
    assert dropped > 100


def test_a_lost_response_leaves_the_order_at_the_broker(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> list[str]:
        chain = await c.deribit.chain()
        puts = [q for q in chain.quotes if q.option_type == "put" and q.bid]
        legs = [
            {"instrument_name": puts[5].name, "direction": "sell"},
            {"instrument_name": puts[3].name, "direction": "buy"},
        ]
        with pytest.raises(McpUnavailableError):
            await c.deribit.place_combo_order(legs, "sell", 1, Decimal("0.5"), "bite-lost")
        found = await c.deribit.orders_by_label("bite-lost")
        return [o.label for o in found]

    assert run(tmp_path, faults(deribit__place_combo_order={"lose_response": True}), body) == [
        "bite-lost"
    ]


def test_the_environment_can_be_made_to_lie(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> str:
        return await c.deribit.environment()

    assert run(tmp_path, faults(deribit__environment={"environment": "mainnet"}), body) == "mainnet"


def test_an_unknown_broker_position_appears(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> list[str]:
        return [p.instrument_name for p in await c.deribit.positions()]

    env = {
        "CERBERO_BITE_PAPER_FAULTS": json.dumps(
            {"broker.unknown_position": {"instrument_name": "ETH-13MAR26-2500-P", "size": -2}}
        )
    }
    assert run(tmp_path, env, body) == ["ETH-13MAR26-2500-P"]


def test_a_service_wildcard_hits_every_tool(tmp_path: Path) -> None:
    async def body(c: Clients, clock: VirtualClock) -> int:
        failures = 0
        for call in (c.macro.eur_usd(), c.macro.calendar(clock.now(), clock.now())):
            try:
                await call
            except McpUnavailableError:
                failures += 1
        return failures

    assert run(tmp_path, {"CERBERO_BITE_PAPER_FAULTS": '{"macro.*": {"error": 500}}'}, body) == 2


def test_persisted_counts_survive_a_new_process(tmp_path: Path) -> None:
    env = faults(deribit__index_price={"error": 500, "times": 2, "persist": True})
    no_retry: dict[str, Any] = {"execution": {"retry_waits_s": []}}

    async def body(c: Clients, clock: VirtualClock) -> str:
        try:
            await c.deribit.index_price()
        except McpUnavailableError:
            return "failed"
        return "ok"

    outcomes = [run(tmp_path, env, body, no_retry) for _ in range(3)]
    assert outcomes == ["failed", "failed", "ok"]


def test_per_process_counts_start_again_in_a_new_process(tmp_path: Path) -> None:
    env = faults(deribit__index_price={"error": 500, "times": 1})
    no_retry: dict[str, Any] = {"execution": {"retry_waits_s": []}}

    async def body(c: Clients, clock: VirtualClock) -> str:
        try:
            await c.deribit.index_price()
        except McpUnavailableError:
            return "failed"
        return "ok"

    assert [run(tmp_path, env, body, no_retry) for _ in range(2)] == ["failed", "failed"]


def test_bad_fault_rules_are_refused() -> None:
    for text in (
        "{not json",
        '["a"]',
        '{"nope.tool": {"error": 500}}',
        '{"deribit.ticker": {"explode": 1}}',
        '{"deribit.ticker": {"error": 418}}',
    ):
        with pytest.raises(UsageError):
            parse_faults(text, None)


def test_faults_now_and_crash_points_are_refused_outside_paper() -> None:
    for name in ("CERBERO_BITE_PAPER_FAULTS", "CERBERO_BITE_NOW", "CERBERO_BITE_CRASH_AT"):
        with pytest.raises(UsageError, match="paper"):
            check_paper_only_env("testnet", {name: "x"})
    check_paper_only_env("paper", {"CERBERO_BITE_PAPER_FAULTS": "{}"})


@pytest.mark.parametrize(
    "rule",
    [
        {"error": 503},
        {"error": 401},
        {"error": 400, "times": 1},
        {"timeout": True},
        {"malformed": True},
        {"latency_ms": 2500},
    ],
    ids=",".join,
)
def test_a_backtest_without_http_sees_every_fault_as_a_job_does(
    tmp_path: Path, rule: dict[str, Any]
) -> None:
    """Asked in process (a backtest), the paper exchange's answers and faults reach the
    client as the same values and the same errors, with the same retries and waits."""

    async def body(c: Clients, clock: VirtualClock) -> tuple[str, str, int, str]:
        try:
            outcome = repr(await c.macro.eur_usd())
        except Exception as exc:  # the error itself is what is compared
            outcome = f"{type(exc).__name__}: {exc}"
        return outcome, clock.now().isoformat(), c.http.stats().total, repr(c.http.counts)

    for mode in ("http", "local"):
        (tmp_path / mode).mkdir()
    seen = [
        with_clients(
            flat_config(tmp_path / mode, {"execution": {"retry_waits_s": [1, 5]}}),
            tmp_path / mode,
            body,
            environ=faults(macro__eur_usd_rate=rule),
            in_process=mode == "local",
        )
        for mode in ("http", "local")
    ]
    assert seen[0] == seen[1]
