"""A venue in its settlement or maintenance is no health strike; a broker that fails is."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bite.errors import McpUnavailableError
from bite.jobs.health import HealthReport, _services


class _Http:
    """The one HTTP path's ``health``, answering as a venue would."""

    def __init__(self, code: str | None) -> None:
        self.code = code

    async def health(self, name: str) -> float:
        if name == "deribit":
            raise McpUnavailableError("deribit", "health", "HTTP 503", code=self.code)
        return 1.0


class _Clients:
    def __init__(self, code: str | None) -> None:
        self.http = _Http(code)


@pytest.mark.parametrize(
    ("code", "strike", "paused"),
    [
        ("system_maintenance", False, True),
        ("settlement_in_progress", False, True),
        ("temporarily_unavailable", False, True),
        ("fault_503", True, False),
        (None, True, False),
    ],
)
def test_a_paused_venue_is_not_a_strike(code: str | None, strike: bool, paused: bool) -> None:
    report = HealthReport()
    clients: Any = _Clients(code)
    broker_ok, was_paused = asyncio.run(_services(clients, report))
    assert (not broker_ok, was_paused) == (strike, paused)
    assert report.services["deribit"]["up"] is False
