"""Alerts (docs/operations.md 6): routed by severity, de-duplicated, never fatal.

LOW goes to the log; MEDIUM to the log and Telegram; HIGH also to the audit log;
CRITICAL also arms the kill switch when its source is an integrity fault.
Identical alerts (same source and key) within ``alerts.dedup_minutes`` are sent
once. A dry run only logs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from bite.clients.telegram import TelegramClient, escape
from bite.clock import Clock
from bite.config.schema import StrategyConfig
from bite.safety.audit_log import AuditLog
from bite.safety.kill_switch import KillSwitch
from bite.state.repository import Repository, parse_iso_z

Severity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
log = logging.getLogger("bite.alerts")
OPEN_KEY = "open_alerts"
_LEVEL = {
    "LOW": logging.INFO,
    "MEDIUM": logging.WARNING,
    "HIGH": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
_ICON = {"LOW": "ℹ️", "MEDIUM": "⚠️", "HIGH": "🚨", "CRITICAL": "🛑"}


@dataclass
class Alerts:
    """Where a job reports what a person should know."""

    repo: Repository | None
    audit: AuditLog | None
    telegram: TelegramClient | None
    kill_switch: KillSwitch | None
    cfg: StrategyConfig
    clock: Clock
    dry_run: bool
    job: str
    raised: list[dict[str, Any]] = field(default_factory=list)

    async def emit(
        self,
        severity: Severity,
        source: str,
        key: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        integrity: bool = False,
    ) -> None:
        """Route one alert; never raises."""
        now = self.clock.now()
        self.raised.append({"severity": severity, "source": source, "key": key, "message": message})
        log.log(_LEVEL[severity], "[%s] %s: %s", severity, source, message)
        if self.dry_run or self.repo is None:
            return
        sent = False
        if severity != "LOW" and self.telegram is not None and self._due(source, key, now):
            text = (
                f"{_ICON[severity]} <b>Cerbero Bite — {escape(severity)}</b>\n"
                f"<i>{escape(self.job)} · {escape(source)}</i>\n{escape(message)}"
            )
            result = await self.telegram.send(text)
            sent = result.sent
        if severity != "LOW":
            self._open(source, key, add=True)
        try:
            self.repo.add_alert(now, severity, source, key, message, sent=sent, details=details)
            if severity in ("HIGH", "CRITICAL") and self.audit is not None:
                self.audit.append(
                    "ALERT",
                    {
                        "severity": severity,
                        "source": source,
                        "key": key,
                        "message": message,
                        "details": details or {},
                    },
                    now,
                )
            if severity == "CRITICAL" and integrity and self.kill_switch is not None:
                self.kill_switch.arm(key, "integrity", self.job, now)
        except Exception:  # an alert must never make a job fail
            log.exception("could not record the alert")

    def _open(self, source: str, key: str, *, add: bool) -> bool:
        """Track outages that a recovery message will close; True when it was open."""
        if self.repo is None:
            return False
        current = set(self.repo.get_state(OPEN_KEY) or [])
        name = f"{source}|{key}"
        was_open = name in current
        if add:
            current.add(name)
        else:
            current.discard(name)
        if current != set(self.repo.get_state(OPEN_KEY) or []):
            self.repo.set_state(OPEN_KEY, sorted(current), self.clock.now())
        return was_open

    async def resolve(self, source: str, key: str, message: str) -> None:
        """Close an outage: one recovery message when an alert with this key was open."""
        if self.dry_run or self.repo is None or not self._open(source, key, add=False):
            return
        log.info("[RESOLVED] %s: %s", source, message)
        self.repo.add_alert(self.clock.now(), "LOW", source, f"{key}:resolved", message, sent=True)
        if self.telegram is not None:
            await self.telegram.send(
                f"✅ <b>Cerbero Bite — resolved</b>\n<i>{escape(source)}</i>\n{escape(message)}"
            )

    def _due(self, source: str, key: str, now: Any) -> bool:
        if self.repo is None:
            return True
        last = self.repo.last_alert_sent(source, key)
        if last is None:
            return True
        return bool(now - parse_iso_z(last) >= timedelta(minutes=self.cfg.alerts.dedup_minutes))

    async def notify(self, message_html: str) -> None:
        """A plain notice (entry filled, position closed): Telegram only, never in a dry run."""
        if self.dry_run or self.telegram is None:
            return
        await self.telegram.send(message_html)
