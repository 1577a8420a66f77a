"""Approved configuration (risk-controls.md 3) and the config each job chooses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bite.config.loader import load_config
from bite.context import try_load_config
from bite.errors import ConfigError
from bite.safety.config_approval import approve, choose_config, diff

from tests.state_support import fresh_state

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
MANUAL = "paper:\n  auto_approve: false\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "strategy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_approval_stores_the_version_and_audits_it(tmp_path: Path) -> None:
    state = fresh_state(tmp_path / "data")
    loaded = load_config(write(tmp_path, MANUAL))
    result = approve(state.repo, state.audit, loaded, T0, by="operator")
    assert state.repo.is_config_approved(loaded.hash)
    assert result.version_id == 1
    last = json.loads(state.audit.path.read_bytes().splitlines()[-1])
    assert last["event"] == "CONFIG_APPROVED"
    assert last["payload"]["hash"] == loaded.hash


def test_new_sample_is_stored_with_its_start_and_audited(tmp_path: Path) -> None:
    state = fresh_state(tmp_path / "data")
    loaded = load_config(write(tmp_path, MANUAL))
    approve(state.repo, state.audit, loaded, T0, by="operator", new_sample=True)
    assert state.repo.current_sample() == (1, "2026-03-02T14:00:00.000000Z")
    events = [json.loads(x)["event"] for x in state.audit.path.read_bytes().splitlines()]
    assert events == ["CONFIG_APPROVED", "NEW_SAMPLE"]
    approve(state.repo, state.audit, loaded, T0, by="operator")
    assert state.repo.current_sample() == (1, "2026-03-02T14:00:00.000000Z")


def test_diff_lists_changed_fields_and_hides_secrets(tmp_path: Path) -> None:
    from bite.config.loader import canonical_dump

    a = load_config(write(tmp_path, MANUAL)).config
    b = load_config(
        write(tmp_path, MANUAL + "  serve_token: s3cret-tok\nentry:\n  dvol_min: 45\n")
    ).config
    changes = {c.path: (c.old, c.new) for c in diff(canonical_dump(a), b)}
    assert changes == {"entry.dvol_min": (40.0, 45.0), "paper.serve_token": (None, "***")}


def test_entry_refuses_an_unapproved_config(tmp_path: Path) -> None:
    state = fresh_state(tmp_path / "data")
    loaded = load_config(write(tmp_path, MANUAL))
    choice = choose_config("entry", loaded, state.repo, state.audit, T0, dry_run=False)
    assert choice.refused
    assert choice.alerts[0][0] == "MEDIUM"


def test_entry_exits_2_on_an_invalid_file(tmp_path: Path) -> None:
    state = fresh_state(tmp_path / "data")
    bad = try_load_config(write(tmp_path, "entry:\n  dvol_min: -5\n"))
    assert isinstance(bad, ConfigError)
    with pytest.raises(ConfigError):
        choose_config("entry", bad, state.repo, state.audit, T0, dry_run=False)


@pytest.mark.parametrize("job", ["monitor", "recover", "health"])
def test_other_jobs_fall_back_to_the_last_approved_config(tmp_path: Path, job: str) -> None:
    state = fresh_state(tmp_path / "data")
    approved = load_config(write(tmp_path, MANUAL))
    approve(state.repo, state.audit, approved, T0, by="operator")
    changed = load_config(write(tmp_path, MANUAL + "entry:\n  dvol_min: 45\n"))
    choice = choose_config(job, changed, state.repo, state.audit, T0, dry_run=False)  # type: ignore[arg-type]
    assert (choice.source, choice.hash) == ("last_approved", approved.hash)
    assert choice.alerts[0][0] == "MEDIUM"
    broken = try_load_config(write(tmp_path, "entry: [\n"))
    choice = choose_config(job, broken, state.repo, state.audit, T0, dry_run=False)  # type: ignore[arg-type]
    assert choice.config == approved.config
    assert choice.alerts[0][0] == "HIGH"


def test_without_any_approval_monitor_exits_2_naming_the_command(tmp_path: Path) -> None:
    state = fresh_state(tmp_path / "data")
    loaded = load_config(write(tmp_path, MANUAL))
    with pytest.raises(ConfigError, match="bite config approve"):
        choose_config("monitor", loaded, state.repo, state.audit, T0, dry_run=False)


def test_paper_auto_approves_a_new_hash_once(tmp_path: Path) -> None:
    state = fresh_state(tmp_path / "data")
    loaded = load_config(write(tmp_path, ""))
    first = choose_config("entry", loaded, state.repo, state.audit, T0, dry_run=False)
    second = choose_config("entry", loaded, state.repo, state.audit, T0, dry_run=False)
    assert (first.auto_approved, second.auto_approved) == (True, False)
    assert state.repo.last_approved_config().approved_by == "paper_auto"  # type: ignore[union-attr]


def test_testnet_is_never_auto_approved(tmp_path: Path) -> None:
    state = fresh_state(tmp_path / "data")
    loaded = load_config(write(tmp_path, "execution:\n  environment: testnet\n"))
    assert choose_config("entry", loaded, state.repo, state.audit, T0, dry_run=False).refused


def test_a_dry_run_uses_the_file_as_it_is_and_approves_nothing(tmp_path: Path) -> None:
    state = fresh_state(tmp_path / "data")
    loaded = load_config(write(tmp_path, ""))
    choice = choose_config("entry", loaded, state.repo, state.audit, T0, dry_run=True)
    assert (choice.approved, choice.source) == (False, "file")
    assert state.repo.last_approved_config() is None
    assert not state.audit.path.exists()
