"""Helpers for end-to-end tests: the real CLI on the paper exchange under a virtual clock."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.integration.cli_support import bite
from tests.support import with_rules_under_test

ENTRY_MONDAY = "2026-01-05T14:00:00Z"  # the synthetic market (seed 7) accepts an entry here


def workspace_config(config_text: str) -> str:
    """The test's config text with instant retries and the rules the scenarios were written
    for (``RULES_UNDER_TEST``) wherever the text says nothing of them."""
    data = yaml.safe_load(config_text) if config_text.strip() else {}
    if not isinstance(data, dict):  # a test of a broken file: written as it is
        return "execution:\n  retry_waits_s: [0, 0]\n" + config_text
    data = with_rules_under_test(data)
    data.setdefault("execution", {}).setdefault("retry_waits_s", [0, 0])
    return yaml.safe_dump(data, sort_keys=False)


class Workspace:
    """A config and a data dir in a temporary directory."""

    def __init__(self, root: Path, config_text: str = "") -> None:
        self.root = root
        self.config = root / "strategy.yaml"
        self.config.write_text(workspace_config(config_text), encoding="utf-8")
        self.data = root / "data"

    def run(
        self,
        *args: str,
        now: str = ENTRY_MONDAY,
        faults: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full = {"CERBERO_BITE_NOW": now, **(env or {})}
        if faults is not None:
            full["CERBERO_BITE_PAPER_FAULTS"] = json.dumps(faults)
        return bite(*args, "--config", str(self.config), "--data-dir", str(self.data), env=full)

    def json(self, *args: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        done = self.run(*args, "--json", **kwargs)
        try:
            return done.returncode, json.loads(done.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"no JSON: {done.stdout!r} {done.stderr!r}") from None

    def query(self, sql: str, db: str = "state.sqlite") -> list[tuple[Any, ...]]:
        path = self.data / db
        if not path.exists():
            return []
        conn = sqlite3.connect(path)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def audit_events(self) -> list[str]:
        path = self.data / "audit.log"
        if not path.exists():
            return []
        return [json.loads(line)["event"] for line in path.read_bytes().splitlines()]

    def broker_orders(self) -> list[tuple[Any, ...]]:
        return self.query("SELECT label, state, filled_amount FROM orders", "paper.sqlite")
