"""The Fear & Greed index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bite.clients._http import McpHttp
from bite.clients.macro import iso_to_time
from bite.errors import McpProtocolError

SERVICE = "sentiment"


@dataclass(frozen=True)
class FearGreed:
    """One daily reading."""

    value: int
    classification: str
    time: datetime


def fear_greed_from_json(result: Any) -> FearGreed:
    """The contract's ``fear_greed`` result."""
    if not isinstance(result, Mapping):
        raise McpProtocolError(SERVICE, "fear_greed", "answer is not an object")
    try:
        value = int(result["value"])
    except (KeyError, TypeError, ValueError):
        raise McpProtocolError(SERVICE, "fear_greed", "value missing") from None
    if not 0 <= value <= 100:
        raise McpProtocolError(SERVICE, "fear_greed", f"value {value} outside 0..100")
    return FearGreed(
        value,
        str(result.get("classification", "")),
        iso_to_time(result.get("time"), "fear_greed", "time", SERVICE),
    )


class SentimentClient:
    """Typed access to the sentiment service."""

    def __init__(self, http: McpHttp) -> None:
        self.http = http

    async def fear_greed(self) -> FearGreed:
        """Today's reading."""
        return fear_greed_from_json(await self.http.call(SERVICE, "fear_greed", {}))
