"""Alert routing: severity decides where an alert goes; duplicates are sent once an hour."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from bite.clients.telegram import TelegramClient
from bite.clock import VirtualClock
from bite.config.schema import StrategyConfig
from bite.jobs.alerts import Alerts

from tests.state_support import fresh_state


def alerts_for(
    tmp_path: Path, sent: list[str], *, dry_run: bool = False
) -> tuple[Alerts, VirtualClock]:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["text"])
        return httpx.Response(200, json={"ok": True, "result": {}})

    async def no_wait(_: float) -> None:
        return None

    state = fresh_state(tmp_path)
    clock = VirtualClock(datetime(2026, 3, 2, 14, tzinfo=UTC))
    telegram = TelegramClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)), "1:token", "42", no_wait
    )
    return Alerts(
        state.repo,
        state.audit,
        telegram,
        state.kill_switch,
        StrategyConfig(),
        clock,
        dry_run,
        "monitor-run",
    ), clock


def test_severity_routes_to_the_log_telegram_audit_and_switch(tmp_path: Path) -> None:
    sent: list[str] = []
    alerts, _ = alerts_for(tmp_path, sent)

    async def body() -> None:
        await alerts.emit("LOW", "x", "low", "just so you know")
        await alerts.emit("MEDIUM", "x", "medium", "a service is down")
        await alerts.emit("HIGH", "x", "high", "an exit was rejected")
        await alerts.emit("CRITICAL", "x", "guard", "a guard failed", integrity=True)

    asyncio.run(body())
    assert len(sent) == 3  # LOW stays in the log
    events = [json.loads(x)["event"] for x in (tmp_path / "audit.log").read_bytes().splitlines()]
    assert events == ["ALERT", "ALERT", "KILL_SWITCH_ARMED"]
    assert alerts.kill_switch is not None and alerts.kill_switch.status().kind == "integrity"


def test_identical_alerts_are_sent_once_within_the_dedup_window(tmp_path: Path) -> None:
    sent: list[str] = []
    alerts, clock = alerts_for(tmp_path, sent)

    async def body() -> None:
        await alerts.emit("MEDIUM", "macro", "service_down", "macro is unreachable")
        clock.advance_to(clock.now() + timedelta(minutes=30))
        await alerts.emit("MEDIUM", "macro", "service_down", "macro is unreachable")
        await alerts.emit("MEDIUM", "sentiment", "service_down", "sentiment is unreachable")
        clock.advance_to(clock.now() + timedelta(minutes=31))
        await alerts.emit("MEDIUM", "macro", "service_down", "macro is unreachable")

    asyncio.run(body())
    assert [("macro" in t, "sentiment" in t) for t in sent] == [
        (True, False),
        (False, True),
        (True, False),
    ]


def test_a_dry_run_only_logs(tmp_path: Path) -> None:
    sent: list[str] = []
    alerts, _ = alerts_for(tmp_path, sent, dry_run=True)
    asyncio.run(alerts.emit("CRITICAL", "x", "guard", "boom", integrity=True))
    assert sent == []
    assert not (tmp_path / "audit.log").exists()


def test_a_recovery_message_closes_an_outage_once(tmp_path: Path) -> None:
    sent: list[str] = []
    alerts, _ = alerts_for(tmp_path, sent)

    async def body() -> None:
        await alerts.resolve("macro", "service_down", "macro is reachable again")  # no outage
        await alerts.emit("MEDIUM", "macro", "service_down", "macro is unreachable")
        await alerts.resolve("macro", "service_down", "macro is reachable again")
        await alerts.resolve("macro", "service_down", "macro is reachable again")

    asyncio.run(body())
    assert len(sent) == 2
    assert "unreachable" in sent[0]
    assert "resolved" in sent[1]
