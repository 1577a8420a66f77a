"""The audit hash chain (risk-controls.md 2): format, verify, tampering, boot check."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from bite.safety.audit_log import AuditLog, read_last_lines
from bite.safety.audit_record import GENESIS, parse_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.state_support import MemoryAnchors, fresh_state

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def filled_log(tmp_path: Path, count: int = 6) -> tuple[AuditLog, MemoryAnchors]:
    anchors = MemoryAnchors()
    log = AuditLog(tmp_path, anchors)
    for i in range(count):
        log.append(
            "TEST",
            {"i": i, "amount": Decimal("0.0125"), "who": "Cerbero ✓"},
            T0 + timedelta(seconds=i),
        )
    return log, anchors


def test_line_format_is_the_canonical_json_with_the_hash_last(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path, 2)
    lines = log.path.read_bytes().splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["event", "payload", "prev", "seq", "ts", "hash"]
    assert first["prev"] == GENESIS
    assert first["ts"] == "2026-03-02T14:00:00.000000Z"
    assert first["payload"]["amount"] == "0.0125"
    body = {k: first[k] for k in ("seq", "ts", "event", "payload", "prev")}
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == first["hash"]
    assert lines[0] == canonical.encode()[:-1] + f',"hash":"{first["hash"]}"}}'.encode()
    assert json.loads(lines[1])["prev"] == first["hash"]


def test_a_clean_chain_verifies_and_matches_its_anchor(tmp_path: Path) -> None:
    log, anchors = filled_log(tmp_path)
    report = log.verify()
    assert report.healthy
    assert report.records == 6
    assert anchors.anchor == (6, report.last_hash)


def _rewrite(log: AuditLog, lines: list[bytes]) -> None:
    log.path.write_bytes(b"".join(lines))


def test_verify_catches_a_deleted_line(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path)
    lines = log.path.read_bytes().splitlines(keepends=True)
    _rewrite(log, lines[:2] + lines[3:])
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == 3


def test_verify_catches_a_swapped_pair(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path)
    lines = log.path.read_bytes().splitlines(keepends=True)
    lines[3], lines[4] = lines[4], lines[3]
    _rewrite(log, lines)
    assert log.verify().first_bad_seq == 4


def test_only_the_anchor_reveals_a_cleanly_truncated_tail(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path)
    lines = log.path.read_bytes().splitlines(keepends=True)
    _rewrite(log, lines[:4])
    report = log.verify()
    assert report.ok  # a valid chain on its own
    assert not report.anchor_ok
    assert not report.healthy


def test_verify_catches_a_half_cut_last_line(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path)
    data = log.path.read_bytes()
    log.path.write_bytes(data[: len(data) - 40])
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == 6


def test_verify_catches_a_forged_payload_with_its_own_hash_recomputed(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path)
    lines = log.path.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[2])
    rec["payload"]["amount"] = "99"
    body = {k: rec[k] for k in ("seq", "ts", "event", "payload", "prev")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    lines[2] = (text[:-1] + f',"hash":"{digest}"}}\n').encode()
    _rewrite(log, lines)
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == 4  # the next line's prev no longer matches


def test_a_forged_last_line_is_caught_by_the_anchor(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path)
    lines = log.path.read_bytes().splitlines(keepends=True)
    rec = json.loads(lines[-1])
    rec["payload"]["amount"] = "99"
    body = {k: rec[k] for k in ("seq", "ts", "event", "payload", "prev")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    lines[-1] = (text[:-1] + f',"hash":"{digest}"}}\n').encode()
    _rewrite(log, lines)
    assert not log.verify().healthy
    assert log.inspect_tail().outcome == "mismatch"


@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(data=st.data())
def test_every_single_byte_change_is_caught(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    directory = tmp_path_factory.mktemp("audit")
    log, _ = filled_log(directory, 4)
    original = log.path.read_bytes()
    position = data.draw(st.integers(0, len(original) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    tampered = original[:position] + bytes([replacement]) + original[position + 1 :]
    log.path.write_bytes(tampered)
    assert not log.verify().healthy


def _last_lines_whole(content: bytes, count: int) -> tuple[list[bytes], bool]:
    """What read_last_lines must answer, from the whole file at once."""
    if not content:
        return [], True
    lines = content.splitlines(keepends=True)
    return (lines[-count:] if count > 0 else []), content.endswith(b"\n")


@settings(
    max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(
    content=st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\xe2\x9c\x93"]), max_size=120).map(
        b"".join
    ),
    count=st.integers(0, 6),
    first_block=st.integers(1, 40),
)
def test_the_last_lines_do_not_depend_on_the_blocks_read(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, count: int, first_block: int
) -> None:
    # read back from the end in small growing blocks, the tail's lines are those of a
    # whole-file read: with or without a final newline, with empty lines, with more
    # lines asked for than there are
    path = tmp_path_factory.mktemp("tail") / "audit.log"
    path.write_bytes(content)
    expected = _last_lines_whole(content, count)
    assert read_last_lines(path, count, first_block=first_block) == expected
    assert read_last_lines(path, count) == expected


def test_the_last_lines_of_a_missing_file_are_none(tmp_path: Path) -> None:
    assert read_last_lines(tmp_path / "absent.log", 2) == ([], True)


def test_parse_record_refuses_lines_without_a_trailing_hash() -> None:
    with pytest.raises(ValueError, match="hash"):
        parse_record(b'{"event":"X"}\n')


def test_boot_check_passes_a_matching_tail(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path)
    assert log.boot_check(T0, dry_run=False).outcome == "ok"


def test_a_crash_between_append_and_anchor_is_reanchored_not_tampering(tmp_path: Path) -> None:
    log, anchors = filled_log(tmp_path)
    saved = anchors.anchor
    log.append("LATE", {"x": 1}, T0 + timedelta(minutes=1))
    log.append("LATER", {"x": 2}, T0 + timedelta(minutes=2))
    anchors.anchor = saved  # the anchor update never happened
    result = log.boot_check(T0 + timedelta(minutes=3), dry_run=False)
    assert result.outcome == "reanchored"
    assert result.lines_ahead == 2
    assert anchors.anchor is not None and anchors.anchor[0] == 8
    assert log.verify().healthy


def test_a_dry_run_boot_check_changes_nothing(tmp_path: Path) -> None:
    log, anchors = filled_log(tmp_path)
    anchors.anchor = (3, anchors.anchor[1] if anchors.anchor else "")
    before = log.path.read_bytes()
    result = log.boot_check(T0, dry_run=True)
    assert result.outcome == "mismatch"
    assert log.path.read_bytes() == before
    assert anchors.anchor[0] == 3


@pytest.mark.parametrize("damage", ["truncate", "half_cut", "byte", "forge_anchor", "empty"])
def test_damage_at_the_tail_sets_the_log_aside_and_starts_a_new_chain(
    tmp_path: Path, damage: str
) -> None:
    log, anchors = filled_log(tmp_path)
    data = log.path.read_bytes()
    lines = data.splitlines(keepends=True)
    if damage == "truncate":
        _rewrite(log, lines[:-2])
    elif damage == "half_cut":
        log.path.write_bytes(data[:-30])
    elif damage == "byte":
        log.path.write_bytes(data[:-20] + b"0" + data[-19:])
    elif damage == "forge_anchor":
        anchors.anchor = (6, "f" * 64)
    else:
        log.path.write_bytes(b"")
    damaged = log.path.read_bytes()
    result = log.boot_check(T0 + timedelta(hours=1), dry_run=False)
    assert result.outcome == "mismatch"
    assert result.set_aside is not None
    assert result.set_aside.read_bytes() == damaged  # the evidence, untouched
    first = json.loads(log.path.read_bytes().splitlines()[0])
    assert first["event"] == "AUDIT_RESET"
    assert first["payload"]["old_anchor_seq"] == 6
    assert log.verify().ok
    assert log.verify().broken_logs == (result.set_aside.name,)
    assert not log.verify().healthy  # until the operator moves the evidence away


def test_appending_to_a_damaged_tail_sets_the_log_aside_and_restarts_the_chain(
    tmp_path: Path,
) -> None:
    log, anchors = filled_log(tmp_path)
    told: list[str] = []
    log.on_reset = lambda result, now: told.append(result.detail)
    log.path.write_bytes(log.path.read_bytes()[:-10])
    record = log.append("X", {}, T0)
    assert told and "cut short" in told[0]
    assert record.seq == 2  # after the AUDIT_RESET that begins the new chain
    assert [json.loads(line)["event"] for line in log.path.read_bytes().splitlines()] == [
        "AUDIT_RESET",
        "X",
    ]
    assert log.broken_logs()
    assert anchors.anchor == (2, record.hash)


def _append_many(directory: str, worker: int, count: int) -> None:
    state = fresh_state(Path(directory))
    for i in range(count):
        state.audit.append("PAR", {"worker": worker, "i": i}, T0 + timedelta(seconds=i))
    state.close()


def test_two_processes_appending_at_once_keep_one_valid_chain(tmp_path: Path) -> None:
    fresh_state(tmp_path).close()
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(str(tmp_path), w, 150)) for w in (1, 2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    state = fresh_state(tmp_path)
    report = state.audit.verify()
    state.close()
    assert report.healthy
    assert report.records == 300


def test_the_anchor_lives_in_sqlite(tmp_path: Path) -> None:
    state = fresh_state(tmp_path)
    state.audit.append("A", {}, T0)
    anchor = state.repo.get_anchor()
    state.close()
    assert anchor is not None
    assert anchor[0] == 1
    assert anchor[1] == json.loads(state.audit.path.read_bytes())["hash"]


@pytest.mark.parametrize("where", ["first_half", "join", "second_half", "last_line", "clean"])
def test_the_two_core_verify_catches_damage_anywhere(tmp_path: Path, where: str) -> None:
    log, _ = filled_log(tmp_path, 40)
    lines = log.path.read_bytes().splitlines(keepends=True)
    size = len(b"".join(lines))
    middle_line = next(i for i in range(len(lines)) if len(b"".join(lines[: i + 1])) > size // 2)
    target = {
        "first_half": 5,
        "join": middle_line + 1,
        "second_half": 33,
        "last_line": 39,
        "clean": None,
    }[where]
    if target is not None:
        lines[target] = lines[target].replace(b'"i":', b'"j":')
    _rewrite(log, lines)
    serial = log.verify(parallel_from_bytes=10**12)
    parallel = log.verify(parallel_from_bytes=1)
    assert parallel == serial
    if target is None:
        assert parallel.healthy
        assert parallel.records == 40
    else:
        assert not parallel.ok
        assert parallel.first_bad_seq == target + 1


def test_the_two_core_verify_catches_a_deleted_line_at_the_join(tmp_path: Path) -> None:
    log, _ = filled_log(tmp_path, 40)
    lines = log.path.read_bytes().splitlines(keepends=True)
    for cut in range(15, 26):
        _rewrite(log, lines[:cut] + lines[cut + 1 :])
        report = log.verify(parallel_from_bytes=1)
        assert report == log.verify(parallel_from_bytes=10**12)
        assert report.first_bad_seq == cut + 1
