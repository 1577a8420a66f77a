"""Tampering the audit log, as an attacker or a bad disk would, and who catches it when.

- the tail (truncation, a duplicated or edited last line): the very next append,
  whatever appends first (a paper auto-approval, an operator's arm), sets the log
  aside, begins a new chain and arms the kill switch (integrity);
- the middle: backup-run's full walk, within the hour, never copying it as good;
  health-run between walks, over the lines appended since the last walk only;
- a log rewritten together with its anchor: ``audit verify --witness``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bite.clock import VirtualClock
from bite.config.schema import BackupConfig
from bite.context import StateContext, open_state
from bite.jobs.backup import AuditChainBrokenError, run_backup
from bite.jobs.health import _check_appended_lines, run_health
from bite.safety.audit_log import VERIFIED_KEY
from pytest_httpx import HTTPXMock

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def filled(data_dir: Path, count: int = 40) -> StateContext:
    state = open_state(data_dir)
    for i in range(count):
        state.audit.append("TEST", {"i": i}, T0 + timedelta(seconds=i))
    return state


def lines_of(state: StateContext) -> list[bytes]:
    return state.audit.path.read_bytes().splitlines(keepends=True)


def rewrite(state: StateContext, lines: list[bytes]) -> None:
    state.audit.path.write_bytes(b"".join(lines))


def edit_payload(line: bytes) -> bytes:
    record = json.loads(line)
    record["payload"]["i"] = 999
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


TAIL_TAMPERINGS: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "truncated by three lines": lambda lines: lines[:-3],
    "emptied": lambda lines: [],
    "last line duplicated": lambda lines: [*lines, lines[-1]],
    "last line cut short": lambda lines: [*lines[:-1], lines[-1][:-20]],
    "last line edited": lambda lines: [*lines[:-1], edit_payload(lines[-1])],
    "last two lines swapped": lambda lines: [*lines[:-2], lines[-1], lines[-2]],
    "last line removed and the one before it duplicated": lambda lines: [*lines[:-1], lines[-2]],
    "a foreign line appended": lambda lines: [*lines, b'{"event":"X","hash":"00"}\n'],
    "only the first line kept": lambda lines: lines[:1],
}


@pytest.mark.parametrize("how", list(TAIL_TAMPERINGS))
def test_the_next_append_catches_a_tampered_tail(tmp_path: Path, how: str) -> None:
    with filled(tmp_path) as state:
        rewrite(state, TAIL_TAMPERINGS[how](lines_of(state)))
        state.audit.append("CONFIG_APPROVED", {"by": "paper_auto"}, T0 + timedelta(hours=1))
        switch = state.kill_switch.status()
        assert switch.armed, how
        assert switch.kind == "integrity"
        assert "audit_mismatch" in switch.reasons
        assert state.audit.broken_logs(), "the damaged log is kept aside"
        report = state.audit.verify()
        assert report.ok and report.anchor_ok, how  # the new chain is sound
        events = [json.loads(line)["event"] for line in lines_of(state)]
        assert events[0] == "AUDIT_RESET"
        assert "CONFIG_APPROVED" in events and "KILL_SWITCH_ARMED" in events


def test_lines_written_after_the_anchor_by_a_run_that_died_are_adopted(tmp_path: Path) -> None:
    with filled(tmp_path, 5) as state:
        anchor = state.repo.get_anchor()
        state.audit.append("TEST", {"i": 5}, T0 + timedelta(minutes=1))
        assert anchor is not None
        state.repo.set_anchor(anchor[0], anchor[1], T0)  # as if the process died before the anchor
        state.audit.append("TEST", {"i": 6}, T0 + timedelta(minutes=2))
        assert not state.kill_switch.status().armed
        assert state.audit.verify().healthy


MIDDLE_TAMPERINGS: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "a payload edited": lambda lines: [*lines[:10], edit_payload(lines[10]), *lines[11:]],
    "a line deleted": lambda lines: [*lines[:10], *lines[11:]],
    "two lines swapped": lambda lines: [*lines[:10], lines[11], lines[10], *lines[12:]],
    "a line duplicated": lambda lines: [*lines[:11], lines[10], *lines[11:]],
    "bytes flipped": lambda lines: [*lines[:10], lines[10].replace(b'"i"', b'"j"'), *lines[11:]],
}


@pytest.mark.parametrize("how", list(MIDDLE_TAMPERINGS))
def test_backup_run_walks_the_chain_and_never_copies_a_broken_log_as_good(
    tmp_path: Path, how: str
) -> None:
    with filled(tmp_path) as state:
        rewrite(state, MIDDLE_TAMPERINGS[how](lines_of(state)))
        assert state.audit.inspect_tail().outcome == "ok"  # the O(1) tail check cannot see it
        with pytest.raises(AuditChainBrokenError, match="broken"):
            run_backup(
                tmp_path, state.repo, state.audit, BackupConfig(), T0 + timedelta(hours=1),
                state.kill_switch,
            )  # fmt: skip
        assert state.kill_switch.status().reasons == ("audit_chain_broken",)
        copies = sorted(p.name for p in (tmp_path / "backups").glob("audit-*"))
        assert copies and all(name.endswith(".broken.log") for name in copies)


def test_a_good_walk_stores_its_head_and_copies_exactly_what_it_walked(tmp_path: Path) -> None:
    with filled(tmp_path) as state:
        result = run_backup(tmp_path, state.repo, state.audit, BackupConfig(), T0, None)
        head = state.repo.get_state(VERIFIED_KEY)
        assert head["seq"] == 40
        assert result.audit_copy is not None
        assert result.audit_copy.stat().st_size == head["offset"]
        assert _check_appended_lines(state) is None


def health(data_dir: Path, at: datetime) -> dict[str, object]:
    result = asyncio.run(
        run_health(ROOT / "strategy.yaml", data_dir, VirtualClock(at), 5, os.environ)
    )
    return {"status": result.status, "reasons": result.reasons}


def test_health_run_checks_the_lines_appended_since_the_last_walk(tmp_path: Path) -> None:
    with filled(tmp_path) as state:
        run_backup(tmp_path, state.repo, state.audit, BackupConfig(), T0, None)
        for i in range(5):
            state.audit.append("TEST", {"i": 100 + i}, T0 + timedelta(minutes=i))
        lines = lines_of(state)
        lines[-3] = edit_payload(lines[-3])  # after the walk, before the tail
        rewrite(state, lines)
    found = health(tmp_path, T0 + timedelta(minutes=30))
    assert found["status"] == "failing"
    assert "strike:audit_chain" in found["reasons"]  # type: ignore[operator]
    with open_state(tmp_path) as state:
        assert "audit_chain_broken" in state.kill_switch.status().reasons


def test_health_run_does_not_reread_what_the_walk_verified(tmp_path: Path) -> None:
    """An edit before the verified head is backup-run's to find, not health-run's: O(new)."""
    with filled(tmp_path) as state:
        run_backup(tmp_path, state.repo, state.audit, BackupConfig(), T0, None)
        state.audit.append("TEST", {"i": 100}, T0 + timedelta(minutes=1))
        head = state.repo.get_state(VERIFIED_KEY)
        lines = lines_of(state)
        lines[5] = lines[5].replace(b'"i":5', b'"i":7')  # same length, before the head
        rewrite(state, lines)
        assert state.audit.path.stat().st_size > head["offset"]
        assert _check_appended_lines(state) is None
        assert not state.audit.verify().ok


def test_a_witness_proves_a_log_rewritten_with_its_anchor(tmp_path: Path) -> None:
    with filled(tmp_path, 10) as state:
        anchor = state.repo.get_anchor()
        assert anchor is not None
        assert state.audit.verify(witness=anchor).healthy
        # an attacker who rewrites the log and its anchor together
        state.audit.path.unlink()
        state.repo.set_anchor(0, "", T0)
        forged = open_state(tmp_path / "forge")
        for i in range(12):
            forged.audit.append("TEST", {"i": -i}, T0 + timedelta(seconds=i))
        state.audit.path.write_bytes(forged.audit.path.read_bytes())
        forged_anchor = forged.repo.get_anchor()
        forged.close()
        assert forged_anchor is not None
        state.repo.set_anchor(*forged_anchor, T0)
        assert state.audit.verify().healthy  # every other check passes
        report = state.audit.verify(witness=anchor)
        assert report.witness_ok is False
        assert not report.healthy


def test_health_run_sends_the_chain_head_to_telegram_once_a_day(
    tmp_path: Path, httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outside witness: one notice a day with the anchor's seq and hash."""
    monkeypatch.setenv("CERBERO_BITE_TELEGRAM_BOT_TOKEN", "123:witness-test-token")
    monkeypatch.setenv("CERBERO_BITE_TELEGRAM_CHAT_ID", "42")
    httpx_mock.add_response(
        url=re.compile(r"https://api\.telegram\.org/.*"),
        json={"ok": True, "result": {"message_id": 1}},
        is_reusable=True,
    )
    filled(tmp_path, 3).close()
    for hours in (0, 1, 25):  # the second run is within the day: no second notice
        health(tmp_path, T0 + timedelta(hours=hours))
    witnesses = _witnesses(httpx_mock)
    assert len(witnesses) == 2
    with open_state(tmp_path) as state:
        seq, digest = state.repo.get_anchor() or (0, "")
        assert f"seq {seq} hash {digest}" in witnesses[-1]
        assert state.audit.verify(witness=(seq, digest)).witness_ok is True  # and it proves


def test_a_witness_that_telegram_did_not_take_is_sent_by_the_next_run(
    tmp_path: Path, httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram down at the day's first run: the witness is not marked as sent, so the
    next run, an hour later, sends it; the run after that, within the day, does not."""
    monkeypatch.setenv("CERBERO_BITE_TELEGRAM_BOT_TOKEN", "123:witness-test-token")
    monkeypatch.setenv("CERBERO_BITE_TELEGRAM_CHAT_ID", "42")
    telegram = re.compile(r"https://api\.telegram\.org/.*")
    httpx_mock.add_response(url=telegram, status_code=502, is_reusable=True)
    filled(tmp_path, 3).close()
    health(tmp_path, T0)
    assert _witnesses(httpx_mock)  # tried, refused
    httpx_mock.reset()
    httpx_mock.add_response(
        url=telegram, json={"ok": True, "result": {"message_id": 1}}, is_reusable=True
    )
    health(tmp_path, T0 + timedelta(hours=1))
    assert len(_witnesses(httpx_mock)) == 1
    health(tmp_path, T0 + timedelta(hours=2))
    assert len(_witnesses(httpx_mock)) == 1


def _witnesses(httpx_mock: HTTPXMock) -> list[str]:
    """The witness notices asked of Telegram since the mock's last reset."""
    texts = [
        json.loads(r.content)["text"]
        if r.headers.get("content-type", "").startswith("application/json")
        else r.content.decode()
        for r in httpx_mock.get_requests()
    ]
    return [t for t in texts if "audit witness" in t]
