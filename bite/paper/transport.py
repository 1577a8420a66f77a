"""The in-process httpx transport: the clients' real request code, answered by the paper service."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from bite.clock import Clock, parse_instant
from bite.config.schema import SERVICE_NAMES
from bite.paper.service import Answer, PaperService

NOW_HEADER = "x-bite-now"
MALFORMED = b'{"result": [unterminated'  # the body of the ``malformed`` fault


def route(path: str) -> tuple[str, str] | None:
    """``/deribit/tools/ticker`` -> (deribit, ticker); ``/deribit/health`` -> (deribit, health)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) == 3 and parts[1] == "tools" and parts[0] in SERVICE_NAMES:
        return parts[0], parts[2]
    if len(parts) == 2 and parts[1] == "health" and parts[0] in SERVICE_NAMES:
        return parts[0], "health"
    return None


def request_time(header: str | None, clock: Clock) -> datetime:
    """The run's time from ``X-Bite-Now``, else the clock's."""
    return parse_instant(header) if header else clock.now()


class PaperTransport(httpx.AsyncBaseTransport):
    """Hands each request to the paper service in this process."""

    def __init__(self, service: PaperService, clock: Clock) -> None:
        self.service = service
        self.clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (faults included)."""
        target = route(request.url.path)
        if target is None:
            return httpx.Response(
                404, json={"error": {"code": "not_found", "message": request.url.path}}
            )
        service, tool = target
        if tool == "health":
            return await self._respond(self.service.health(service), request)
        now = request_time(request.headers.get(NOW_HEADER), self.clock)
        try:
            args = json.loads(request.content or b"{}")
        except json.JSONDecodeError:
            return httpx.Response(400, json={"error": {"code": "bad_json", "message": "body"}})
        answer = self.service.call(service, tool, args, now)
        return await self._respond(answer, request)

    async def answer(self, service: str, tool: str, args: dict[str, Any]) -> tuple[int, Any]:
        """The same answer without HTTP (``McpHttp``'s ``local``; faults included): the
        status and the body, ``bytes`` for a malformed one; a lost one raises."""
        answer = self.service.call(service, tool, args, self.clock.now())
        if answer.latency_ms:
            await self.clock.sleep(answer.latency_ms / 1000)
        if answer.timeout or answer.lose_response:
            raise TimeoutError("injected timeout or lost response")
        if answer.malformed:
            return 200, MALFORMED
        return answer.status, answer.body

    async def _respond(self, answer: Answer, request: httpx.Request) -> httpx.Response:
        if answer.latency_ms:
            await self.clock.sleep(answer.latency_ms / 1000)
        if answer.timeout:
            raise httpx.ReadTimeout("injected timeout", request=request)
        if answer.lose_response:
            raise httpx.ReadTimeout("injected lost response", request=request)
        if answer.malformed:
            return httpx.Response(200, content=MALFORMED)
        return httpx.Response(answer.status, json=answer.body)
