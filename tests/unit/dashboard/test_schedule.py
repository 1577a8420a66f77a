"""The next runs the dashboard reads from a crontab."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bite.dashboard.schedule import next_run, next_runs, parse_crontab

from tests.integration.cli_support import ROOT

MONDAY_1830 = datetime(2026, 3, 2, 18, 30, tzinfo=UTC)


def test_the_shipped_crontab_gives_each_job_its_next_run() -> None:
    runs = dict(next_runs(ROOT / "crontab", MONDAY_1830))
    assert runs == {
        "entry-run": datetime(2026, 3, 9, 14, 0, tzinfo=UTC),
        "monitor-run": datetime(2026, 3, 2, 19, 0, tzinfo=UTC),
        "health-run": datetime(2026, 3, 2, 18, 35, tzinfo=UTC),
        "backup-run": datetime(2026, 3, 2, 19, 17, tzinfo=UTC),
        "dead man": datetime(2026, 3, 2, 18, 35, tzinfo=UTC),
    }


def test_the_monitor_skips_the_settlement_hour() -> None:
    (monitor,) = [
        x for x in parse_crontab((ROOT / "crontab").read_text()) if x.job == "monitor-run"
    ]
    assert next_run(monitor, datetime(2026, 3, 3, 7, 5, tzinfo=UTC)) == datetime(
        2026, 3, 3, 9, 0, tzinfo=UTC
    )


def test_cron_d_lines_ranges_steps_and_either_day_rule(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "# comment",
            "SHELL=/bin/sh",
            "0 14 * * 1 bite as-bite bite entry-run",  # cron.d: a user before the command
            "15 6-18/6 1,15 * 5 root bite backup-run",  # the 1st, the 15th or a Friday
            "61 * * * * bite health-run",  # out of range: skipped, not a crash
            "0 0 * * * echo not ours",
        ]
    )
    lines = parse_crontab(text)
    assert [x.job for x in lines] == ["entry-run", "backup-run"]
    backup = lines[1]
    assert sorted(backup.hours) == [6, 12, 18]
    # from Monday 2 March 18:30: Friday 6 March 06:15 (before the 15th, on a Friday)
    assert next_run(backup, MONDAY_1830) == datetime(2026, 3, 6, 6, 15, tzinfo=UTC)
    assert next_run(backup, datetime(2026, 3, 14, 19, 0, tzinfo=UTC)) == datetime(
        2026, 3, 15, 6, 15, tzinfo=UTC
    )
    never = parse_crontab("0 0 30 2 * bite entry-run")[0]  # 30 February
    assert next_run(never, MONDAY_1830) is None
