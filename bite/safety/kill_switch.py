"""The kill switch (docs/risk-controls.md 1): armed, kind, reasons, since; only escalates.

Kinds: ``integrity`` (the system's own state or inputs cannot be trusted: no
order of any kind) and ``operational`` (no new risk; exits that reduce a
position may still go, as ``kill_switch.exits_when_operational`` says).
Cancelling our own working order is always allowed. Every change is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bite.clock import iso_z
from bite.safety.audit_log import AuditLog, BootResult
from bite.state.repository import Repository

Kind = Literal["integrity", "operational"]
STATE_KEY = "kill_switch"
log = logging.getLogger("bite.kill_switch")
_RANK = {"operational": 1, "integrity": 2}


@dataclass(frozen=True)
class KillSwitchState:
    """What the switch says now."""

    armed: bool
    kind: Kind | None = None
    reasons: tuple[str, ...] = ()
    source: str | None = None
    since: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and the audit."""
        return {
            "armed": self.armed,
            "kind": self.kind,
            "reasons": list(self.reasons),
            "source": self.source,
            "since": self.since,
        }


@dataclass(frozen=True)
class Permission:
    """May this order be sent or edited now?"""

    allowed: bool
    reason: str | None = None


class KillSwitch:
    """Reads and changes the switch in SQLite; audits every change."""

    def __init__(self, repo: Repository, audit: AuditLog | None) -> None:
        self.repo = repo
        self.audit = audit

    def status(self) -> KillSwitchState:
        """Read the switch (the job calls this at boot and before every send or edit)."""
        value = self.repo.get_state(STATE_KEY)
        if not value or not value.get("armed"):
            return KillSwitchState(armed=False)
        return KillSwitchState(
            armed=True,
            kind=value["kind"],
            reasons=tuple(value["reasons"]),
            source=value.get("source"),
            since=value.get("since"),
        )

    def arm(self, reason: str, kind: Kind, source: str, now: datetime) -> KillSwitchState:
        """Arm (idempotent): a later reason is appended, the first kept; the kind only escalates."""
        if kind not in _RANK:
            raise ValueError(f"unknown kill switch kind: {kind}")
        current = self.status()
        if current.armed:
            held: Kind = current.kind or "operational"
            new_kind: Kind = kind if _RANK[kind] > _RANK[held] else held
            reasons = current.reasons if reason in current.reasons else (*current.reasons, reason)
            state = KillSwitchState(True, new_kind, reasons, current.source, current.since)
            if state == current:
                return current
        else:
            state = KillSwitchState(True, kind, (reason,), source, iso_z(now))
        self.repo.set_state(STATE_KEY, state.to_dict(), now)
        if self.audit is not None:
            self.audit.append(
                "KILL_SWITCH_ARMED",
                {"reason": reason, "kind": kind, "source": source, "state": state.to_dict()},
                now,
            )
        return state

    def disarm(self, reason: str, source: str, now: datetime) -> KillSwitchState:
        """Clear the switch (the operator's command only)."""
        if not reason.strip():
            raise ValueError("disarming needs a reason")
        before = self.status()
        state = KillSwitchState(armed=False)
        self.repo.set_state(STATE_KEY, state.to_dict(), now)
        if self.audit is not None:
            self.audit.append(
                "KILL_SWITCH_DISARMED",
                {"reason": reason, "source": source, "was": before.to_dict()},
                now,
            )
        return state


def permission(
    state: KillSwitchState,
    *,
    order: Literal["entry", "exit", "cancel", "hedge"],
    risk_exit: bool,
    exits_when_operational: str,
) -> Permission:
    """The rule applied right before a send or edit (docs/risk-controls.md 1).

    A hedge order reduces the account's exposure to ETH's price: it may go with the
    switch armed for an operational reason, never for integrity (the inputs it would be
    sized from cannot be trusted then)."""
    if order == "cancel" or not state.armed:
        return Permission(True)
    if state.kind == "integrity" or order == "entry":
        return Permission(False, "kill_switch_armed")
    if order == "hedge":
        return Permission(True)
    if exits_when_operational == "all" or (exits_when_operational == "risk_only" and risk_exit):
        return Permission(True)
    return Permission(False, "kill_switch_armed")


def audit_boot_check(
    audit: AuditLog, switch: KillSwitch, now: datetime, *, source: str, dry_run: bool
) -> BootResult:
    """Boot step 4: check the audit anchor; on a mismatch arm the switch (integrity).

    The arming is audited in the new chain that the boot check began. A dry run
    only reports.
    """
    result = audit.boot_check(now, dry_run=dry_run)
    if result.outcome == "reanchored":
        log.warning("audit log was %d line(s) ahead of its anchor: re-anchored", result.lines_ahead)
    elif result.outcome == "mismatch":
        if dry_run:
            log.error(
                "audit anchor mismatch (%s): a real run would arm the kill switch", result.detail
            )
        else:
            log.critical(
                "audit anchor mismatch (%s): damaged log set aside as %s",
                result.detail,
                result.set_aside.name if result.set_aside else "-",
            )
            switch.arm("audit_mismatch", "integrity", source, now)
    return result
