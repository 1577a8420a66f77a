"""Logging: one JSON object per line in ``data/log/bite-YYYY-MM-DD.jsonl``, a short line on stderr.

A filter replaces every known secret value with ``***`` in every record, and
hides URL credentials and bearer tokens, before any handler sees it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from bite.clock import iso_z

_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_URL_USER = re.compile(r"(https?://)[^/@\s]+@")
_BOT_PATH = re.compile(r"(/bot)[0-9]+:[A-Za-z0-9_-]+")
LOGGER_NAME = "bite"


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    """Remove secrets, bearer tokens, URL credentials and Telegram bot tokens from text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _BEARER.sub(r"\1***", text)
    text = _URL_USER.sub(r"\1***@", text)
    return _BOT_PATH.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with secrets removed."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        record.msg = redact_text(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(formatted, self.secrets)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialize the record."""
        data = {
            "ts": iso_z(datetime.fromtimestamp(record.created, tz=UTC)),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update(extra)
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, default=str, ensure_ascii=False)


def setup_logging(
    data_dir: Path | None, level: str, secrets: tuple[str, ...], now: datetime
) -> logging.Logger:
    """Configure the ``bite`` logger for one run: JSON file (when a data dir) and stderr."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    for old in list(logger.filters):
        logger.removeFilter(old)
    logger.setLevel(level.upper())
    logger.propagate = False
    guard_third_party_loggers(secrets)
    redactor = RedactingFilter(secrets)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("bite %(levelname)s %(message)s"))
    stderr.addFilter(redactor)
    logger.addHandler(stderr)
    if data_dir is not None:
        log_dir = data_dir / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_dir / f"bite-{now:%Y-%m-%d}.jsonl", encoding="utf-8")
        handler.setFormatter(JsonFormatter())
        handler.addFilter(redactor)
        logger.addHandler(handler)
    return logger


THIRD_PARTY_LOGGERS = ("httpx", "httpcore")


def guard_third_party_loggers(secrets: tuple[str, ...]) -> None:
    """Redact the loggers of libraries that log URLs (httpx logs every request's URL).

    Telegram's URL carries the bot token; a logger-level filter rewrites each
    record before any handler, ours or another's, can see it.
    """
    for name in THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            secrets = tuple(dict.fromkeys((*old.secrets, *secrets)))
            logger.removeFilter(old)
        logger.addFilter(RedactingFilter(secrets))
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
