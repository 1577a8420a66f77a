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


def test_the_layers_of_bite_point_one_way() -> None:
    assert _checker().check_layers(ROOT / "bite") == []


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    package = tmp_path / "bite"
    for part in ("state", "jobs", "paper"):
        (package / part).mkdir(parents=True)
    (package / "errors.py").write_text("", encoding="utf-8")
    (package / "state" / "repo.py").write_text(
        "from bite.errors import IntegrityError\nfrom bite.jobs.entry import run_entry_cycle\n",
        encoding="utf-8",
    )
    (package / "jobs" / "boot.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bite.paper.market import MarketSource\n"  # a type: fine
        "import bite.paper.crash\n",
        encoding="utf-8",
    )
    (package / "gadgets.py").write_text("", encoding="utf-8")
    found = [(v.path.name, v.line, v.message) for v in _checker().check_layers(package)]
    assert found == [
        ("gadgets.py", 1, "bite.gadgets is not in the layer graph"),
        ("boot.py", 4, "bite.jobs may not import bite.paper"),
        ("repo.py", 2, "bite.state may not import bite.jobs"),
    ]
