"""Secrets from the environment or from files (docs/risk-controls.md 6).

``NAME`` holds the value, or ``NAME_FILE`` names a file holding it. A secret file
writable by anyone but its owner is refused; one readable by others too, unless
it lies under ``$CREDENTIALS_DIRECTORY`` (systemd) or ``/run/secrets`` (Docker).
Errors name the variable and the file, never the value.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

from bite.config.schema import SERVICE_NAMES
from bite.errors import ConfigError

DASHBOARD_PASSWORD = "CERBERO_BITE_DASHBOARD_PASSWORD"  # noqa: S105 - a variable's name
SECRET_NAMES: tuple[str, ...] = (
    *(f"CERBERO_BITE_MCP_{s.upper()}_TOKEN" for s in SERVICE_NAMES),
    "CERBERO_BITE_DERIBIT_CLIENT_ID",
    "CERBERO_BITE_DERIBIT_CLIENT_SECRET",
    "CERBERO_BITE_TELEGRAM_BOT_TOKEN",
    "CERBERO_BITE_TELEGRAM_CHAT_ID",
    DASHBOARD_PASSWORD,
)
MANAGED_DIRS_ENV = "CREDENTIALS_DIRECTORY"
DOCKER_SECRETS = Path("/run/secrets")
MAX_SECRET_BYTES = 64 * 1024


def _managed(path: Path, environ: Mapping[str, str]) -> bool:
    roots = [DOCKER_SECRETS]
    if environ.get(MANAGED_DIRS_ENV):
        roots.append(Path(environ[MANAGED_DIRS_ENV]))
    resolved = path.resolve()
    return any(resolved.is_relative_to(root.resolve()) for root in roots)


def read_secret(name: str, environ: Mapping[str, str]) -> str | None:
    """The secret ``name`` from ``name`` or ``name_FILE``; None when neither is set."""
    env = environ
    value = env.get(name)
    if value:
        return value.strip()
    file_name = env.get(f"{name}_FILE")
    if not file_name:
        return None
    path = Path(file_name)
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(str(path), [(f"{name}_FILE", f"cannot read: {exc.strerror}")]) from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the job forever
        raise ConfigError(str(path), [(f"{name}_FILE", "not a regular file")])
    if info.st_size > MAX_SECRET_BYTES:
        raise ConfigError(str(path), [(f"{name}_FILE", f"larger than {MAX_SECRET_BYTES} bytes")])
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            str(path), [(f"{name}_FILE", f"writable by others (mode {mode:o}); chmod 600 it")]
        )
    if mode & (stat.S_IRGRP | stat.S_IROTH) and not _managed(path, env):
        raise ConfigError(
            str(path), [(f"{name}_FILE", f"readable by others (mode {mode:o}); chmod 600 it")]
        )
    try:
        text = path.read_bytes()[:MAX_SECRET_BYTES].decode("utf-8").strip()
    except OSError as exc:
        raise ConfigError(str(path), [(f"{name}_FILE", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:  # the message names the file, never the bytes
        raise ConfigError(str(path), [(f"{name}_FILE", "not UTF-8 text")]) from None
    return text or None


def known_secret_values(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Every secret value set for this run, for redaction (unreadable files are skipped)."""
    values: list[str] = []
    for name in SECRET_NAMES:
        try:
            value = read_secret(name, environ)
        except ConfigError:
            continue
        if value and len(value) >= 4:
            values.append(value)
    return tuple(values)
