"""The docs the code cites exist: every ``docs/NAME.md N`` in a docstring or comment
names a file of the repository with a section ``## N.``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITATION = re.compile(r"docs/([a-z0-9-]+\.md)(?: (\d+))?")


def citations() -> list[tuple[str, str, str | None]]:
    found = []
    for path in sorted([*(ROOT / "bite").rglob("*.py"), ROOT / "strategy.yaml"]):
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), match.group(1), match.group(2)))
    return found


def test_the_code_cites_its_docs() -> None:
    assert len(citations()) > 50  # the check below has something to check


def test_every_cited_doc_and_section_exists() -> None:
    missing = []
    for source, name, section in citations():
        doc = ROOT / "docs" / name
        if not doc.is_file():
            missing.append(f"{source}: docs/{name}")
            continue
        heading = re.compile(rf"^## {section}\. ", re.MULTILINE)
        if section is not None and not heading.search(doc.read_text(encoding="utf-8")):
            missing.append(f"{source}: docs/{name} section {section}")
    assert missing == []


def test_no_citation_of_a_file_outside_the_repository() -> None:
    loose = re.compile(
        r"(?<![/\w-])(mcp-contract|direct-connectors|paper-exchange|operations|risk-controls)\.md"
    )
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "bite").rglob("*.py")
        if loose.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
