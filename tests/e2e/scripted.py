"""Scripted market paths for end-to-end tests of the exit rules.

A steady uptrend from 2,400 to 3,000 USD into Monday 2026-03-02 14:00 UTC gives
a bull bias and an entry (a put spread below 3,000); the path after the entry
decides which exit rule fires.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.support import Workspace

ENTRY = datetime(2026, 3, 2, 14, tzinfo=UTC)

PATHS: dict[str, list[tuple[float, float, float]]] = {
    "flat": [(400, 3000, 60)],
    "rally": [(24, 3150, 55), (400, 3150, 55)],
    "crash": [(40, 2950, 62), (64, 2740, 75), (400, 2740, 75)],
    "shock": [(40, 3000, 60), (63, 2990, 78), (64, 2890, 78), (400, 2890, 78)],
    "breach": [(40, 3000, 60), (64, 2765, 60), (400, 2765, 60)],
    "jump": [(40, 3000, 60), (41, 2100, 60), (400, 2100, 60)],
    "fall": [(24, 2940, 60), (96, 2550, 64), (400, 2550, 64)],  # 15 % over the week
}


def script(after: list[tuple[float, float, float]]) -> str:
    """The YAML of a path: the uptrend, then ``(hours after entry, spot, dvol)`` points."""
    start = datetime(2025, 9, 1, tzinfo=UTC)
    days = (ENTRY - start).days
    rows = [(start + timedelta(days=k), 2400 + 600 * k / days, 60.0) for k in range(0, days + 1, 5)]
    rows.append((ENTRY, 3000.0, 60.0))
    rows += [(ENTRY + timedelta(hours=h), s, d) for h, s, d in after]
    lines = ["points:"] + [
        f"  - {{time: '{t:%Y-%m-%dT%H:%M:%SZ}', spot: {s:.2f}, dvol: {d}}}" for t, s, d in rows
    ]
    return "\n".join(lines) + "\n"


def scripted_workspace(root: Path, path: str, extra: str = "") -> Workspace:
    """A workspace whose paper market follows one of :data:`PATHS`."""
    file = root / f"{path}.yaml"
    file.write_text(script(PATHS[path]), encoding="utf-8")
    return Workspace(
        root, f"paper:\n  market:\n    kind: scripted\n    script_file: {file}\n" + extra
    )


def at(hours: float) -> str:
    """The instant ``hours`` after the entry slot."""
    return (ENTRY + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
