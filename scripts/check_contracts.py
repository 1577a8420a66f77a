"""Import contracts: ``bite.core`` stays pure, and the layers point one way.

Walks the syntax tree of every module (nothing is imported or run) and fails
with the file and line of each forbidden import or call.
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


def main() -> int:
    """Run every contract; print the violations; exit 1 when any."""
    violations = check_core(ROOT / "bite" / "core")
    for violation in violations:
        print(violation)
    if violations:
        print(f"import contracts: {len(violations)} violation(s)")
        return 1
    print("import contracts: bite.core is pure (kept)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
