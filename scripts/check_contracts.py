"""Import contracts: ``bite.core`` stays pure, and the layers point one way.

Walks the syntax tree of every module (nothing is imported or run) and fails
with the file and line of each forbidden import or call. The layer graph is
docs/architecture.md's: each top-level part of ``bite`` names the parts it may
import (its own always); an import under ``if TYPE_CHECKING:`` is a type, not a
dependency, and is not counted.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CORE_FORBIDDEN_MODULES = (
    "bite.clients",
    "bite.state",
    "bite.jobs",
    "bite.paper",
    "bite.safety",
    "bite.context",
    "bite.cli",
    "bite.reporting",
    "bite.clock",
    "httpx",
    "sqlite3",
    "os",
    "time",
    "random",
    "secrets",
    "uuid",
    "logging",
    "socket",
    "subprocess",
    "pathlib",
    "shutil",
    "io",
    "tempfile",
    "threading",
    "asyncio",
    "requests",
    "tenacity",
    "rich",
    "typer",
    "yaml",
)
CORE_FORBIDDEN_CALLS = ("now", "utcnow", "today", "open", "print", "input")


# who may import whom (docs/architecture.md); a part imports itself freely
LAYERS: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "config": frozenset({"errors"}),
    "clock": frozenset({"errors"}),
    "log": frozenset({"clock", "errors"}),
    "core": frozenset({"config", "errors"}),
    "state": frozenset({"core", "clock", "config", "errors"}),
    "clients": frozenset({"core", "clock", "config", "errors", "log"}),
    "safety": frozenset({"state", "core", "clock", "config", "errors", "log"}),
    "reporting": frozenset({"clients", "core", "clock", "config", "errors"}),
    "paper": frozenset({"core", "clock", "config", "errors", "log"}),
    "context": frozenset(
        {"clients", "paper", "safety", "state", "core", "clock", "config", "errors", "log"}
    ),
    "jobs": frozenset(
        {"context", "clients", "safety", "state", "reporting", "core", "clock", "config"}
        | {"errors", "log"}
    ),
    "backtest": frozenset(
        {"jobs", "paper", "context", "clients", "safety", "state", "reporting", "core"}
        | {"clock", "config", "errors", "log"}
    ),
    "dashboard": frozenset(
        {"jobs", "context", "safety", "state", "reporting", "core", "clock", "config"}
        | {"errors", "log"}
    ),
    "commands": frozenset(
        {"dashboard", "backtest", "jobs", "paper", "context", "clients", "safety", "state"}
        | {"reporting", "core", "clock", "config", "errors", "log"}
    ),
    "cli": frozenset({"commands", "errors"}),
    "__main__": frozenset({"cli"}),
    "__init__": frozenset(),
}


@dataclass(frozen=True)
class Violation:
    """One broken contract: where and what."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.message}"


def _forbidden(module: str, forbidden: tuple[str, ...]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


def check_core(core_dir: Path) -> list[Violation]:
    """Every forbidden import and clock, file or print call under ``core_dir``."""
    found: list[Violation] = []
    for path in sorted(core_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _forbidden(alias.name, CORE_FORBIDDEN_MODULES):
                        found.append(Violation(path, node.lineno, f"imports {alias.name}"))
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if _forbidden(node.module, CORE_FORBIDDEN_MODULES):
                    found.append(Violation(path, node.lineno, f"imports {node.module}"))
            elif isinstance(node, ast.Call):
                func = node.func
                name = (
                    func.attr
                    if isinstance(func, ast.Attribute)
                    else (func.id if isinstance(func, ast.Name) else "")
                )
                if name in CORE_FORBIDDEN_CALLS:
                    found.append(Violation(path, node.lineno, f"calls {name}()"))
    return found


def _part(package_dir: Path, path: Path) -> str:
    first = path.relative_to(package_dir).parts[0]
    return first.removesuffix(".py")


def _runtime_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import that runs: not those under ``if TYPE_CHECKING``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def check_layers(package_dir: Path) -> list[Violation]:
    """Every import of one part of ``bite`` by a part that the layer graph does not allow."""
    found: list[Violation] = []
    for path in sorted(package_dir.rglob("*.py")):
        part = _part(package_dir, path)
        allowed = LAYERS.get(part)
        if allowed is None:
            found.append(Violation(path, 1, f"bite.{part} is not in the layer graph"))
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in _runtime_imports(tree):
            pieces = module.split(".")
            if pieces[0] != "bite" or len(pieces) < 2:
                continue
            target = pieces[1]
            if target != part and target not in allowed:
                found.append(Violation(path, line, f"bite.{part} may not import bite.{target}"))
    return found


def main() -> int:
    """Run every contract; print the violations; exit 1 when any."""
    violations = check_core(ROOT / "bite" / "core") + check_layers(ROOT / "bite")
    for violation in violations:
        print(violation)
    if violations:
        print(f"import contracts: {len(violations)} violation(s)")
        return 1
    print("import contracts: bite.core is pure and the layers point one way (kept)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
