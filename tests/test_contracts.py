"""The import contract that keeps bite.core pure, and proof that it catches a breach."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_contracts", ROOT / "scripts" / "check_contracts.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_contracts"] = module
    spec.loader.exec_module(module)
    return module


def test_core_is_pure() -> None:
    assert _checker().check_core(ROOT / "bite" / "core") == []


def test_the_check_catches_io_clock_and_layer_imports(tmp_path: Path) -> None:
    core = tmp_path / "core"
    core.mkdir()
    (core / "bad.py").write_text(
        "import sqlite3\nfrom bite.clients import deribit\nfrom datetime import datetime\n"
        "import httpx.client\n\ndef f():\n    return datetime.now()\n",
        encoding="utf-8",
    )
    found = [v.message for v in _checker().check_core(core)]
    assert found == [
        "imports sqlite3",
        "imports bite.clients",
        "imports httpx.client",
        "calls now()",
    ]
