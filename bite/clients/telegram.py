"""Telegram notices: notify-only, never raises into a job (docs/operations.md 6).

Calls the Bot API ``sendMessage`` with HTML parse mode. Text is escaped, and a
long message is split at line breaks into parts of at most 4096 characters. A
429 is retried once after its ``retry_after``. Without credentials the client
is disabled (one INFO line per run). The bot token is part of the URL, so no
URL ever reaches a log line.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from bite.config.secrets import read_secret
from bite.errors import ConfigError
from bite.log import guard_third_party_loggers, redact_text

log = logging.getLogger("bite.telegram")
API = "https://api.telegram.org"
LIMIT = 4096
TOKEN_ENV = "CERBERO_BITE_TELEGRAM_BOT_TOKEN"  # noqa: S105 - a variable name, not a secret
CHAT_ENV = "CERBERO_BITE_TELEGRAM_CHAT_ID"


def escape(text: str) -> str:
    """Escape text for HTML parse mode."""
    return html.escape(text, quote=False)


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Parts of at most ``limit`` characters, cut at line breaks where possible."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest or not parts:
        parts.append(rest)
    return parts


@dataclass(frozen=True)
class SendResult:
    """What happened to one notice."""

    sent: bool
    parts: int
    reason: str | None = None


Sleep = Callable[[float], Awaitable[None]]


class TelegramClient:
    """Sends notices to one chat."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        token: str | None,
        chat_id: str | None,
        sleep: Sleep,
        base_url: str = API,
    ) -> None:
        self.client = client
        self.token = token
        self.chat_id = chat_id
        self.sleep = sleep
        self.base_url = base_url.rstrip("/")
        guard_third_party_loggers((token or "",))
        if not self.enabled:
            log.info("Telegram notifications are off (no bot token or chat id)")

    @classmethod
    def from_env(
        cls,
        client: httpx.AsyncClient,
        sleep: Sleep,
        environ: Mapping[str, str],
        base_url: str = API,
    ) -> TelegramClient:
        """Credentials from the environment (or ``_FILE``); a bad file disables, never raises."""
        try:
            token = read_secret(TOKEN_ENV, environ)
            chat = read_secret(CHAT_ENV, environ)
        except ConfigError as exc:
            log.error("Telegram disabled: %s", exc)
            token = chat = None
        return cls(client, token, chat, sleep, base_url)

    @property
    def enabled(self) -> bool:
        """Whether both credentials are set."""
        return bool(self.token and self.chat_id)

    async def send(self, text_html: str) -> SendResult:
        """Send already-escaped HTML text; never raises."""
        if not self.enabled:
            return SendResult(False, 0, "disabled")
        parts = split_message(text_html)
        for index, part in enumerate(parts):
            ok, reason = await self._send_part(part)
            if not ok:
                return SendResult(False, index, reason)
        return SendResult(True, len(parts))

    async def send_text(self, text: str) -> SendResult:
        """Escape plain text and send it."""
        return await self.send(escape(text))

    async def _send_part(self, text: str) -> tuple[bool, str | None]:
        url = f"{self.base_url}/bot{self.token}/sendMessage"
        payload = {
            "chat_id": self.chat_id,
            "text": text,
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        for attempt in (1, 2):
            try:
                response = await self.client.post(url, json=payload, timeout=10)
            except httpx.HTTPError as exc:
                reason = f"unreachable ({type(exc).__name__})"
                log.warning("Telegram notice not sent: %s", reason)
                return False, reason
            if response.status_code == 429 and attempt == 1:
                wait = _retry_after(response)
                log.warning("Telegram rate limit: retrying in %s s", wait)
                await self.sleep(wait)
                continue
            if response.status_code == 200:
                return True, None
            reason = redact_text(
                f"HTTP {response.status_code}: {_description(response)}", (self.token or "",)
            )
            log.warning("Telegram notice not sent: %s", reason)
            return False, reason
        return False, "rate limited twice"


def _retry_after(response: httpx.Response) -> float:
    try:
        value = response.json().get("parameters", {}).get("retry_after", 1)
        return float(min(max(value, 0), 60))
    except (ValueError, AttributeError):
        return 1.0


def _description(response: httpx.Response) -> str:
    try:
        return str(response.json().get("description", ""))[:200]
    except (ValueError, AttributeError):
        return ""
