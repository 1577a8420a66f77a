"""The paper exchange's fault rules (docs/paper-exchange.md 4): read and checked.

``CERBERO_BITE_PAPER_FAULTS`` (JSON) or ``paper.faults``, keyed by ``service.tool``
or ``service.*``; the service applies them on its side of the wire.
"""

from __future__ import annotations

import json
from typing import Any

from bite.config.schema import SERVICE_NAMES
from bite.errors import UsageError

FAULTS_ENV = "CERBERO_BITE_PAPER_FAULTS"
FAULT_KEYS = {
    "error",
    "times",
    "timeout",
    "malformed",
    "latency_ms",
    "override",
    "lose_response",
    "environment",
    "persist",
}
ERRORS = {400, 401, 403, 404, 408, 409, 429, 500, 502, 503}  # 409: combo unavailable


def parse_faults(
    text: str | None, configured: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """The fault rules: ``CERBERO_BITE_PAPER_FAULTS`` (JSON) over ``paper.faults``."""
    rules: dict[str, dict[str, Any]] = dict(configured or {})
    if text:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{FAULTS_ENV}: not JSON ({exc.msg})") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"{FAULTS_ENV}: must be a JSON object keyed by service.tool")
        rules.update(loaded)
    for key, rule in rules.items():
        if key == "broker.unknown_position":
            continue
        service, _, tool = key.partition(".")
        if service not in SERVICE_NAMES or not tool:
            raise UsageError(f"faults: {key!r} is not service.tool or service.*")
        if not isinstance(rule, dict) or set(rule) - FAULT_KEYS:
            raise UsageError(f"faults: {key}: unknown rule {rule!r}")
        if "error" in rule and rule["error"] not in ERRORS:
            raise UsageError(f"faults: {key}: error must be one of {sorted(ERRORS)}")
    return rules
