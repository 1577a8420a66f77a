"""The one composition root: only here are the repository, the audit log and the switch built.

Nothing happens at import time. Commands and jobs open what they need through
these functions and close it when they exit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bite.config.loader import LoadedConfig, load_config
from bite.config.secrets import known_secret_values
from bite.errors import ConfigError
from bite.safety.audit_log import AuditLog
from bite.safety.kill_switch import KillSwitch
from bite.state.db import open_database
from bite.state.repository import Repository

DATA_DIR_ENV = "CERBERO_BITE_DATA_DIR"
CONFIG_ENV = "CERBERO_BITE_CONFIG"
STATE_FILE = "state.sqlite"


def resolve_data_dir(option: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The data dir: the option, else ``CERBERO_BITE_DATA_DIR``, else ``./data``."""
    env = os.environ if environ is None else environ
    if option is not None:
        return option
    return Path(env.get(DATA_DIR_ENV, "data"))


def resolve_config_path(option: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The config file: the option, else ``CERBERO_BITE_CONFIG``, else ``./strategy.yaml``."""
    env = os.environ if environ is None else environ
    if option is not None:
        return option
    return Path(env.get(CONFIG_ENV, "strategy.yaml"))


def try_load_config(path: Path) -> LoadedConfig | ConfigError:
    """Load the config, keeping a validation error as a value (boot step 2)."""
    try:
        return load_config(path)
    except ConfigError as exc:
        return exc


@dataclass
class StateContext:
    """The database, the audit chain and the kill switch of one data dir."""

    data_dir: Path
    repo: Repository
    audit: AuditLog
    kill_switch: KillSwitch

    def close(self) -> None:
        """Close the database."""
        self.repo.close()


def open_state(data_dir: Path) -> StateContext:
    """Open (creating and migrating when needed) the state of ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    repo = Repository(open_database(data_dir / STATE_FILE))
    audit = AuditLog(data_dir, repo, known_secret_values())
    return StateContext(
        data_dir=data_dir, repo=repo, audit=audit, kill_switch=KillSwitch(repo, audit)
    )
