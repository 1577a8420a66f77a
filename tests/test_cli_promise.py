"""The README's promise: every command takes --config, --data-dir, --json and --log-level.

Walked over the real command tree, so that a new command cannot forget one; and
each read-only view honours them (its JSON names the config it was pointed at).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main
from bite.cli import app

from tests.integration.cli_support import ROOT, bite

PROMISED = ("--config", "--data-dir", "--json", "--log-level")


def leaf_commands() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(command: object, path: str) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, f"{path} {name}".strip())
            return
        found[path] = {opt for param in command.params for opt in param.opts}  # type: ignore[attr-defined]

    walk(typer.main.get_command(app), "")
    return found


COMMANDS = leaf_commands()


def test_the_tree_has_every_command_of_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"bite {name.split()[0]}" in readme, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_takes_the_four_promised_options(name: str) -> None:
    missing = [option for option in PROMISED if option not in COMMANDS[name]]
    assert not missing, f"bite {name} lacks {missing}"


VIEWS = [
    ("status",),
    ("positions",),
    ("orders",),
    ("kill-switch", "status"),
    ("audit", "verify"),
    ("audit", "tail"),
]


@pytest.mark.parametrize("view", VIEWS, ids=[" ".join(v) for v in VIEWS])
def test_a_view_reports_the_config_it_was_pointed_at(tmp_path: Path, view: tuple[str, ...]) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("entry:\n  dvol_min: 41\n", encoding="utf-8")
    data = str(tmp_path / "data")
    assert bite("health-run", "--data-dir", data).returncode == 0
    done = bite(
        *view, "--config", str(config), "--data-dir", data, "--json", "--log-level", "DEBUG"
    )
    assert done.returncode == 0, done.stderr
    reported = json.loads(done.stdout)["config"]
    assert reported["file"] == str(config)
    assert reported["valid"] is True
    assert reported["approved"] is False  # the data dir approved only the shipped file


def test_a_view_pointed_at_a_broken_config_still_answers_and_says_so(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("entry: [\n", encoding="utf-8")
    done = bite("kill-switch", "status", "--config", str(config), "--json")
    assert done.returncode == 0, done.stderr
    reported = json.loads(done.stdout)["config"]
    assert reported["valid"] is False
    assert "YAML syntax error" in reported["error"]


def test_config_validate_says_whether_the_data_dir_approved_it(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    before = bite("config", "validate", "--data-dir", data, "--json")
    assert json.loads(before.stdout)["approved"] is None  # no state there yet
    assert bite("health-run", "--data-dir", data).returncode == 0  # paper approves it
    after = bite("config", "hash", "--data-dir", data, "--json")
    assert json.loads(after.stdout)["approved"] is True
