"""Telegram: escaped, split at 4096, one retry after a 429, never raises, token never logged."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from bite.clients.telegram import TelegramClient, escape, split_message
from pytest_httpx import HTTPXMock

from tests.support import FIXTURES

TOKEN = "123456:PLANTED-bot-token"
SEND = f"https://api.telegram.org/bot{TOKEN}/sendMessage"


def client(
    slept: list[float], token: str | None = TOKEN, chat: str | None = "42"
) -> TelegramClient:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return TelegramClient(httpx.AsyncClient(), token, chat, sleep)


def ok_body() -> dict[str, object]:
    result = json.loads((FIXTURES / "telegram/sendMessage_result_anonymized.json").read_text())
    return {"ok": True, "result": result}


def test_sends_html_escaped_text(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=SEND, json=ok_body())
    result = asyncio.run(client([]).send_text("P&L <b>+12</b> EUR"))
    assert result.sent
    body = json.loads(httpx_mock.get_requests()[0].content)
    assert body["text"] == "P&amp;L &lt;b&gt;+12&lt;/b&gt; EUR"
    assert body["parse_mode"] == "HTML"
    assert body["chat_id"] == "42"


def test_a_429_waits_retry_after_then_sends_once_more(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    flood = json.loads((FIXTURES / "telegram/sendMessage_error_429_retry_after.json").read_text())
    httpx_mock.add_response(url=SEND, status_code=429, json=flood)
    httpx_mock.add_response(url=SEND, json=ok_body())
    slept: list[float] = []
    with caplog.at_level(logging.DEBUG):
        result = asyncio.run(client(slept).send_text("hello"))
    assert result.sent
    assert slept == [8.0]
    assert len(httpx_mock.get_requests()) == 2
    assert TOKEN not in caplog.text


def test_two_429s_give_up_without_raising(httpx_mock: HTTPXMock) -> None:
    flood = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests",
        "parameters": {"retry_after": 1},
    }
    httpx_mock.add_response(url=SEND, status_code=429, json=flood)
    httpx_mock.add_response(url=SEND, status_code=429, json=flood)
    result = asyncio.run(client([]).send_text("hello"))
    assert not result.sent


def test_an_unreachable_api_never_raises_and_never_logs_the_token(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_exception(httpx.ConnectError(f"failed to reach {SEND}"), url=SEND)
    with caplog.at_level(logging.DEBUG):
        result = asyncio.run(client([]).send_text("hello"))
    assert not result.sent
    assert TOKEN not in caplog.text
    assert "PLANTED" not in (result.reason or "")


def test_an_error_answer_is_reported_without_the_token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=SEND, status_code=401, json={"ok": False, "description": f"Unauthorized {TOKEN}"}
    )
    result = asyncio.run(client([]).send_text("x"))
    assert not result.sent
    assert TOKEN not in (result.reason or "")


def test_without_credentials_it_is_disabled(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        disabled = client([], token=None)
    assert not disabled.enabled
    assert "off" in caplog.text
    assert asyncio.run(disabled.send_text("x")).reason == "disabled"


def test_long_messages_split_at_line_breaks_under_4096() -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    parts = split_message(text)
    assert len(parts) > 1
    assert all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    assert split_message("y" * 9000) == ["y" * 4096, "y" * 4096, "y" * 808]


def test_a_long_message_is_sent_in_parts(httpx_mock: HTTPXMock) -> None:
    for _ in range(3):
        httpx_mock.add_response(url=SEND, json=ok_body())
    result = asyncio.run(client([]).send(escape("z" * 9000)))
    assert (result.sent, result.parts) == (True, 3)
