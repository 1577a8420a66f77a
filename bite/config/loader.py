"""Read ``strategy.yaml`` (and ``strategy.local.yaml`` beside it) into a validated model.

A bad file raises :class:`bite.errors.ConfigError` naming the file, the dotted
path of the field and what is wrong; a YAML syntax error names the line. The
effective config has a canonical hash: comments and key order do not change it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bite.config.schema import SECRET_FIELDS, CrossFieldError, StrategyConfig
from bite.errors import ConfigError

LOCAL_NAME = "strategy.local.yaml"
MAX_CONFIG_BYTES = 1_000_000  # strategy.yaml is ~10 KB; anything near this is not a config
REDACTED = "***"
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BASE_LOADER):  # type: ignore[misc]
    """A safe loader that refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} is given twice (first at line {seen[key].line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_LOADER: Any = _StrictLoader
_CACHE: dict[tuple[str, int, int], LoadedConfig] = {}


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config with where it came from and its canonical hash."""

    config: StrategyConfig
    path: Path
    local_path: Path | None
    hash: str


def local_path_for(path: Path) -> Path:
    """Return the path of the local override that sits beside ``path``."""
    return path.with_name(LOCAL_NAME)


def _read_yaml(path: Path) -> dict[str, Any]:
    if path.exists() and not path.is_file():
        raise ConfigError(str(path), [("", "not a regular file")])
    try:
        raw = path.read_bytes()[: MAX_CONFIG_BYTES + 1]
    except FileNotFoundError:
        raise ConfigError(str(path), [("", "file not found")]) from None
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(str(path), [("", f"larger than {MAX_CONFIG_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            str(path), [("", f"not UTF-8 text (byte {exc.start + 1}, line {line})")]
        ) from None
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C when available
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        problem = exc.problem or "invalid YAML"
        raise ConfigError(str(path), [("", f"YAML syntax error at {where}: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [("", f"YAML error: {exc}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("", "the top level must be a mapping of sections")])
    problems = list(_non_finite(data, ""))
    if problems:
        raise ConfigError(str(path), problems)
    return data


def _non_finite(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every ``.inf``/``.nan`` in the raw YAML, anywhere (a hash cannot hold one)."""
    if isinstance(node, float) and not math.isfinite(node):
        yield where, f"must be a finite number (got {node})"
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _non_finite(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _non_finite(value, f"{where}[{index}]")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` over ``base``: mappings merge, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _has_path(data: dict[str, Any], dotted: str) -> bool:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        cause = (error.get("ctx") or {}).get("error")
        message = error["msg"]
        if isinstance(cause, CrossFieldError):
            field = cause.field
            loc = field.split(".") if "." in field else [*loc, field]
            message = str(cause)
        elif error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against strategy.yaml)"
        message = message.removeprefix("Value error, ")
        secret = ".".join(loc) in SECRET_FIELDS
        if secret:
            message = f"{message} (the value is a secret and is not shown)"
        elif "input" in error and error["type"] not in ("extra_forbidden", "missing"):
            shown = error["input"]
            if not isinstance(shown, dict | list):
                message = f"{message} (got {shown!r})"
        problems.append((".".join(loc), message))
    return problems


def validate(
    data: dict[str, Any],
    *,
    base_file: Path,
    local_file: Path | None,
    local_data: dict[str, Any] | None = None,
) -> StrategyConfig:
    """Validate merged data; errors name the file that set the bad field."""
    try:
        return StrategyConfig.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        in_local = (
            local_file is not None
            and local_data is not None
            and any(_has_path(local_data, field) for field, _ in problems if field)
        )
        file = str(local_file) if in_local else str(base_file)
        raise ConfigError(file, problems) from None


def _version(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def load_config(path: Path) -> LoadedConfig:
    """Read, merge and validate the config at ``path`` and its local override.

    Within one process the same file versions are read once.
    """
    key = (str(path.resolve()), _version(path), _version(local_path_for(path)))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    loaded = _load(path)
    _CACHE[key] = loaded
    return loaded


def _load(path: Path) -> LoadedConfig:
    base = _read_yaml(path)
    local = local_path_for(path)
    local_data: dict[str, Any] | None = None
    merged = base
    if local.exists():
        local_data = _read_yaml(local)
        merged = merge(base, local_data)
    config = validate(
        merged,
        base_file=path,
        local_file=local if local_data is not None else None,
        local_data=local_data,
    )
    try:
        digest = config_hash(config)
    except (ValueError, TypeError) as exc:  # a value JSON cannot hold, e.g. in paper.faults
        raise ConfigError(str(path), [("", f"cannot be hashed: {exc}")]) from None
    return LoadedConfig(
        config=config,
        path=path,
        local_path=local if local_data is not None else None,
        hash=digest,
    )


def canonical_dump(config: StrategyConfig) -> str:
    """Return the canonical JSON text of a config: what is hashed and stored."""
    return json.dumps(
        config.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def config_hash(config: StrategyConfig) -> str:
    """Return the SHA-256 of the canonical dump."""
    return hashlib.sha256(canonical_dump(config).encode("utf-8")).hexdigest()


def stored_dump(config: StrategyConfig) -> str:
    """The canonical dump with secrets replaced by ``***``: what SQLite and backups keep."""
    return json.dumps(
        redacted(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def config_from_dump(text: str) -> StrategyConfig:
    """Rebuild a config from a stored dump; a redacted secret comes back unset."""
    data = json.loads(text)
    for dotted in SECRET_FIELDS:
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node.get(part, {})
        if node.get(leaf) == REDACTED:
            node[leaf] = None
    return StrategyConfig.model_validate(data)


def redacted(config: StrategyConfig) -> dict[str, Any]:
    """Return the config as plain data with every secret replaced by ``***``."""
    data: dict[str, Any] = config.model_dump(mode="json")
    for dotted in SECRET_FIELDS:
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        if node.get(leaf) is not None:
            node[leaf] = REDACTED
    for service in data["services"].values():
        for key in ("url", "public_url"):
            if service.get(key):
                service[key] = _redact_url(service[key])
    return data


def _redact_url(url: str) -> str:
    """Hide credentials embedded in a URL (``https://user:pass@host``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = REDACTED + "@" + authority.rsplit("@", 1)[1]
    return f"{scheme}://{authority}{slash}{path}"
