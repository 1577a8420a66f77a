"""Deribit API v2's JSON-RPC over HTTPS: one call, the envelope, the access token.

Private methods carry a bearer token from ``public/auth`` (client credentials), kept
in memory for the run and fetched again shortly before it expires; public methods
never send it. The envelope's ``testnet`` flag comes back with every result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

MAINNET = "https://www.deribit.com/api/v2"
TESTNET = "https://test.deribit.com/api/v2"


class RpcError(Exception):
    """A JSON-RPC error answer."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: {code} {message}")
        self.method = method
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RpcAnswer:
    """A result and the envelope's ``testnet`` flag."""

    result: Any
    testnet: bool | None


class DeribitRpc:
    """JSON-RPC calls on a trading endpoint and a public-data endpoint."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        trade_url: str,
        public_url: str,
        client_id: str | None,
        client_secret: str | None,
        timeout_s: float,
    ) -> None:
        self.client = client
        self.trade_url = trade_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout_s = timeout_s
        self._token: str | None = None
        self._expires_at = 0.0
        self._ids = 0
        self.scope: str | None = None  # what public/auth granted the key

    @property
    def has_key(self) -> bool:
        """Whether an API key is configured."""
        return bool(self.client_id and self.client_secret)

    async def granted_scope(self) -> str | None:
        """The scope the key was granted (authenticating when needed)."""
        await self._access_token()
        return self.scope

    def forget_token(self) -> None:
        """Drop the access token: the next private call authenticates again."""
        self._token = None
        self._expires_at = 0.0

    async def call(
        self, method: str, params: Mapping[str, Any] | None = None, *, public_data: bool = False
    ) -> RpcAnswer:
        """One JSON-RPC call; private methods carry the access token."""
        base = self.public_url if public_data else self.trade_url
        headers = {"Content-Type": "application/json"}
        if method.startswith("private/"):
            headers["Authorization"] = f"Bearer {await self._access_token()}"
        self._ids += 1
        body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": dict(params or {})}
        response = await self.client.post(
            f"{base}/{method}", json=body, headers=headers, timeout=self.timeout_s
        )
        try:
            envelope = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RpcError(method, -32700, f"HTTP {response.status_code}, not JSON") from None
        if not isinstance(envelope, dict):
            raise RpcError(method, -32600, "envelope is not an object")
        error = envelope.get("error")
        if isinstance(error, dict):
            raise RpcError(method, int(error.get("code", -1)), str(error.get("message", "")))
        if "result" not in envelope:
            raise RpcError(method, -32600, "envelope without result")
        testnet = envelope.get("testnet")
        return RpcAnswer(envelope["result"], testnet if isinstance(testnet, bool) else None)

    async def _access_token(self) -> str:
        if self._token and time.monotonic() < self._expires_at - 30:
            return self._token
        if not (self.client_id and self.client_secret):
            raise RpcError(
                "public/auth",
                10000,
                "no Deribit API key configured (CERBERO_BITE_DERIBIT_CLIENT_ID / _CLIENT_SECRET)",
            )
        answer = await self.call(
            "public/auth",
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        result = answer.result if isinstance(answer.result, dict) else {}
        token = result.get("access_token")
        if not isinstance(token, str):
            raise RpcError("public/auth", 13004, "no access token in the answer")
        self._token = token
        self._expires_at = time.monotonic() + float(result.get("expires_in", 900))
        scope = result.get("scope")
        self.scope = scope if isinstance(scope, str) else None
        return token
