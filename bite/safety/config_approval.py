"""Approved configuration (docs/risk-controls.md 3) and the config a job chooses at boot.

The boot is docs/operations.md 1.

``entry-run`` trades only with an approved file. ``monitor-run``, ``recover`` and
``health-run`` fall back to the last approved config (all of it) when the file is
unapproved or does not even validate, so a typo never changes live risk
silently. In the paper environment each new hash is approved on its first
non-dry use (``paper.auto_approve``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bite.config.loader import REDACTED, LoadedConfig, config_from_dump, redacted, stored_dump
from bite.config.schema import SECRET_FIELDS, StrategyConfig
from bite.errors import ConfigError
from bite.safety.audit_log import AuditLog
from bite.state.repository import Repository

Job = Literal["entry", "monitor", "recover", "health"]


@dataclass(frozen=True)
class Change:
    """One field that differs between two configs."""

    path: str
    old: Any
    new: Any


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def diff(old_dump: str | None, new: StrategyConfig) -> list[Change]:
    """Field-by-field changes from an approved dump to ``new`` (every field when none).

    Both sides are compared as stored: secrets and credentials in URLs masked, so
    no diff, prompt or audit line ever shows one.
    """
    before = _flatten(json.loads(old_dump)) if old_dump else {}
    after = _flatten(redacted(new))
    changes = []
    for path in sorted(set(before) | set(after)):
        old, new_value = before.get(path), after.get(path)
        if old == new_value:
            continue
        if path in SECRET_FIELDS:
            old = None if old is None else REDACTED
            new_value = None if new_value is None else REDACTED
        changes.append(Change(path, old, new_value))
    return changes


@dataclass(frozen=True)
class Approval:
    """The record of one approval."""

    version_id: int
    hash: str
    changes: list[Change]
    sample_id: int | None


def approve(
    repo: Repository,
    audit: AuditLog,
    loaded: LoadedConfig,
    now: datetime,
    *,
    by: Literal["operator", "paper_auto"],
    new_sample: bool = False,
) -> Approval:
    """Store the config as approved, audit it, and start a new sample when asked."""
    last = repo.last_approved_config()
    changes = diff(last.dump if last else None, loaded.config)
    version_id = repo.add_config_version(
        loaded.hash, stored_dump(loaded.config), str(loaded.path), now, by, new_sample
    )
    audit.append(
        "CONFIG_APPROVED",
        {
            "hash": loaded.hash,
            "previous_hash": last.hash if last else None,
            "by": by,
            "file": str(loaded.path),
            "changed": [c.path for c in changes][:200],
            "new_sample": new_sample,
        },
        now,
    )
    sample_id: int | None = None
    if new_sample:
        sample_id = repo.start_sample(now, "config approve --new-sample", loaded.hash)
        audit.append("NEW_SAMPLE", {"sample_id": sample_id, "config_hash": loaded.hash}, now)
    return Approval(version_id=version_id, hash=loaded.hash, changes=changes, sample_id=sample_id)


@dataclass(frozen=True)
class ConfigChoice:
    """The config a job trades with, and what to tell the operator about it."""

    config: StrategyConfig
    hash: str
    approved: bool
    source: Literal["file", "last_approved"]
    refused: bool = False
    alerts: tuple[tuple[str, str], ...] = field(default=())
    auto_approved: bool = False


def choose_config(
    job: Job,
    loaded: LoadedConfig | ConfigError,
    repo: Repository,
    audit: AuditLog,
    now: datetime,
    *,
    dry_run: bool,
) -> ConfigChoice:
    """Pick the config per docs/operations.md 1 step 5; raise ConfigError for exit 2."""
    if dry_run:
        if isinstance(loaded, ConfigError):
            raise loaded
        return ConfigChoice(
            loaded.config, loaded.hash, repo.is_config_approved(loaded.hash), "file"
        )
    if isinstance(loaded, LoadedConfig):
        if repo.is_config_approved(loaded.hash):
            return ConfigChoice(loaded.config, loaded.hash, True, "file")
        paper = loaded.config.execution.environment == "paper"
        if paper and loaded.config.paper.auto_approve:
            approve(repo, audit, loaded, now, by="paper_auto")
            return ConfigChoice(loaded.config, loaded.hash, True, "file", auto_approved=True)
        if job == "entry":
            return ConfigChoice(
                loaded.config,
                loaded.hash,
                False,
                "file",
                refused=True,
                alerts=(
                    (
                        "MEDIUM",
                        f"{loaded.path} (hash {loaded.hash[:12]}) is "
                        "not approved: entry refused; run `bite config "
                        "approve`",
                    ),
                ),
            )
    elif job == "entry":
        raise loaded
    last = repo.last_approved_config()
    if last is None:
        if isinstance(loaded, ConfigError):  # say what is wrong with the file first
            raise ConfigError(
                loaded.file,
                [
                    *loaded.problems,
                    (
                        "",
                        "and no configuration was ever approved: fix it, then "
                        "`bite config approve`",
                    ),
                ],
            )
        raise ConfigError(
            str(loaded.path),
            [("", "no configuration was ever approved: run `bite config approve`")],
        )
    if isinstance(loaded, ConfigError):
        severity, why = "HIGH", f"the config file does not validate ({loaded})"
    else:
        severity, why = "MEDIUM", f"{loaded.path} is not approved"
    return ConfigChoice(
        config_from_dump(last.dump),
        last.hash,
        True,
        "last_approved",
        alerts=((severity, f"{why}: {job} uses the last approved config (hash {last.hash[:12]})"),),
    )
