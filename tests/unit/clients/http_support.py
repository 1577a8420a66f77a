"""The transport of the clients' tests: one endpoint, sleeps recorded instead of slept."""

from __future__ import annotations

from typing import Any

import httpx
from bite.clients._http import Endpoint, McpHttp
from bite.clock import WallClock

URL = "http://mcp-deribit.test:9011"
TOKEN = "planted-TOKEN-abc123"


def make_http(
    clock: Any = None, waits: tuple[float, ...] = (1, 5, 30)
) -> tuple[McpHttp, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = httpx.AsyncClient()
    endpoint = Endpoint("deribit", URL, TOKEN, 5)
    return McpHttp(client, {"deribit": endpoint}, clock or WallClock(), waits, sleep), slept
