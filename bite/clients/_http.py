"""The transport every service client shares: one ``httpx.AsyncClient`` per run.

``POST {base_url}/tools/{tool}`` with a bearer token; reads and ``cancel_order``
retry on :class:`McpUnavailableError` after each of ``execution.retry_waits_s``;
placing and editing never retry. Under a virtual clock the run's time travels in
``X-Bite-Now``. URLs and tokens never reach an error message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from bite.clock import Clock, iso_z
from bite.errors import (
    McpAuthError,
    McpComboUnavailableError,
    McpError,
    McpProtocolError,
    McpRequestError,
    McpUnavailableError,
)
from bite.log import redact_text

log = logging.getLogger("bite.clients")
NOW_HEADER = "X-Bite-Now"


@dataclass(frozen=True)
class Endpoint:
    """Where one service lives and how to reach it."""

    service: str
    base_url: str
    token: str | None
    timeout_s: float


Sleep = Callable[[float], Awaitable[None]]
Local = Callable[[str, str, dict[str, Any]], Awaitable[tuple[int, Any]]]
"""A service in this process, asked without HTTP (the paper exchange of a backtest):
``(service, tool, args)`` to the HTTP status and the body as JSON values, ``bytes``
for a body that is not JSON; a lost answer raises ``TimeoutError``."""


@dataclass(frozen=True)
class CallStats:
    """How many calls each tool received in this run (for benchmarks and the report)."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        """All calls."""
        return sum(self.counts.values())


class McpHttp:
    """Calls tools on the services over one shared client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        endpoints: Mapping[str, Endpoint],
        clock: Clock,
        retry_waits_s: Sequence[float],
        sleep: Sleep,
        secrets: tuple[str, ...] = (),
        local: tuple[str, Local] | None = None,
    ) -> None:
        """``local``: the endpoints under that base URL are asked in this process,
        without HTTP and JSON (a backtest's thousands of calls); the answers go through
        the same checks and error mapping as a response."""
        self.client = client
        self.local = local
        self.endpoints = dict(endpoints)
        self.clock = clock
        self.retry_waits_s = tuple(retry_waits_s)
        self.sleep = sleep
        self.secrets = tuple(s for s in (*secrets, *(e.token for e in endpoints.values())) if s)
        self.counts: dict[str, int] = {}

    def stats(self) -> CallStats:
        """Calls made so far."""
        return CallStats(dict(self.counts))

    def _redact(self, text: str) -> str:
        text = redact_text(text, self.secrets)
        for endpoint in self.endpoints.values():
            text = text.replace(endpoint.base_url, f"<{endpoint.service}>")
        return text

    def _headers(self, endpoint: Endpoint) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if endpoint.token:
            headers["Authorization"] = f"Bearer {endpoint.token}"
        if self.clock.virtual:
            headers[NOW_HEADER] = iso_z(self.clock.now())
        return headers

    async def _once(self, service: str, tool: str, args: Mapping[str, Any]) -> Any:
        endpoint = self.endpoints.get(service)
        if endpoint is None:
            raise McpProtocolError(service, tool, "no endpoint configured for this service")
        key = f"{service}.{tool}"
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.local is not None and endpoint.base_url.startswith(self.local[0]):
            try:
                status, body = await self.local[1](service, tool, dict(args))
            except TimeoutError:
                raise McpUnavailableError(service, tool, "timed out") from None
            return self._answer(service, tool, status, lambda: _json_value(body))
        url = f"{endpoint.base_url.rstrip('/')}/tools/{tool}"
        started = time.perf_counter()
        try:
            response = await self.client.post(
                url, json=dict(args), headers=self._headers(endpoint), timeout=endpoint.timeout_s
            )
        except httpx.TimeoutException:
            raise McpUnavailableError(service, tool, "timed out") from None
        except httpx.TransportError as exc:
            raise McpUnavailableError(
                service, tool, f"connection failed ({type(exc).__name__})"
            ) from None
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("%s.%s -> %d in %.0f ms", service, tool, response.status_code, elapsed)
        return self._result(service, tool, response)

    def _result(self, service: str, tool: str, response: httpx.Response) -> Any:
        return self._answer(service, tool, response.status_code, response.json)

    def _answer(self, service: str, tool: str, status: int, decode: Callable[[], Any]) -> Any:
        """The body of a 200, or the error its status and body say."""
        if status == 200:
            try:
                return decode()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise McpProtocolError(service, tool, "answer is not JSON") from None
        message = f"HTTP {status}"
        code: str | None = None
        try:
            body = decode()
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                code = str(error.get("code", "")) or None
                message = f"HTTP {status} {error.get('code', '')}: {error.get('message', '')}"
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
        message = self._redact(message)
        if status in (401, 403):
            raise McpAuthError(service, tool, message, code=code)
        if status == 404:
            raise McpProtocolError(service, tool, message, code=code)
        if status == 409:
            raise McpComboUnavailableError(service, tool, message, code=code)
        if status in (408, 429) or status >= 500:
            raise McpUnavailableError(service, tool, message, code=code)
        raise McpRequestError(service, tool, message, code=code)

    async def call(
        self, service: str, tool: str, args: Mapping[str, Any] | None = None, *, retry: bool = True
    ) -> Any:
        """Call a tool; retry on unavailability when ``retry`` (reads and cancels only)."""
        payload = dict(args or {})
        if not retry or not self.retry_waits_s:
            return await self._once(service, tool, payload)
        try:  # most calls succeed at once: the retry machinery only when one did not
            return await self._once(service, tool, payload)
        except McpUnavailableError:
            pass
        waits = iter(self.retry_waits_s)

        async def wait(_: Any) -> None:
            delay = next(waits, 0.0)
            log.warning("%s.%s unavailable; retrying in %g s", service, tool, delay)
            await self.sleep(delay)

        retrying = AsyncRetrying(  # each retry after its wait
            stop=stop_after_attempt(len(self.retry_waits_s)),
            retry=retry_if_exception_type(McpUnavailableError),
            before=wait,
            sleep=_no_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(service, tool, payload)
        raise McpError(service, tool, "retries exhausted")  # pragma: no cover

    async def health(self, service: str) -> float:
        """GET /health; the latency in ms, or raise :class:`McpUnavailableError`."""
        endpoint = self.endpoints[service]
        started = time.perf_counter()
        try:
            response = await self.client.get(
                f"{endpoint.base_url.rstrip('/')}/health",
                headers=self._headers(endpoint),
                timeout=endpoint.timeout_s,
            )
        except httpx.TransportError as exc:
            raise McpUnavailableError(
                service, "health", f"unreachable ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            self._result(service, "health", response)
        return (time.perf_counter() - started) * 1000


def _json_value(body: Any) -> Any:
    """A local answer's body; ``bytes`` stand for a body that is not JSON."""
    if isinstance(body, bytes):
        return json.loads(body)
    return body


async def _no_sleep(_: float) -> None:
    """tenacity's own sleep is bypassed: the wait happens in ``before``, on our clock."""
