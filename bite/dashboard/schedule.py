"""When the jobs run next, read from the crontab that schedules them.

Only the five time fields of a cron line are read (``*``, ``*/n``, ``a-b``, ``a-b/n``
and lists of these; days of the week 0-7 with Sunday as 0 or 7); the job is the
``bite`` subcommand the line runs, or ``dead man`` for the watchdog. Lines of a
``cron.d`` file (a user field after the time) read the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

_JOB = re.compile(r"\bbite\s+([a-z]+-run|recover)\b|(dead_man)")
_LIMITS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_HORIZON = timedelta(days=8)


@dataclass(frozen=True)
class CronLine:
    """One scheduled job: its name and the values each time field allows."""

    job: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def matches(self, t: datetime) -> bool:
        """Whether the line runs at minute ``t``."""
        if t.minute not in self.minutes or t.hour not in self.hours:
            return False
        if t.month not in self.months:
            return False
        weekday = (t.weekday() + 1) % 7
        day_ok, weekday_ok = t.day in self.days, weekday in self.weekdays
        if self.any_day or self.any_weekday:  # cron: both restricted means either matches
            return day_ok and weekday_ok
        return day_ok or weekday_ok


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"step {step_text!r}")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, last = body.split("-", 1)
            start, end = int(first), int(last)
        else:
            start = int(body)
            end = high if step_text else start
        if not low <= start <= end <= high:
            raise ValueError(f"{part!r} outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse_crontab(text: str) -> list[CronLine]:
    """The lines of a crontab that run a bite job or the dead man (others are skipped)."""
    found: list[CronLine] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(None, 5)
        job = _JOB.search(line)
        if len(fields) < 6 or job is None or "=" in fields[0]:
            continue
        try:
            parts = [_field(f, lo, hi) for f, (lo, hi) in zip(fields[:5], _LIMITS, strict=True)]
        except ValueError:
            continue
        weekdays = frozenset(d % 7 for d in parts[4])
        found.append(
            CronLine(
                job=job.group(1) or "dead man",
                minutes=parts[0],
                hours=parts[1],
                days=parts[2],
                months=parts[3],
                weekdays=weekdays,
                any_day=fields[2] == "*",
                any_weekday=fields[4] == "*",
            )
        )
    return found


def next_run(line: CronLine, now: datetime) -> datetime | None:
    """The first minute after ``now`` the line runs (None beyond eight days)."""
    t = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = now + _HORIZON
    while t <= end:
        if line.matches(t):
            return t
        t += timedelta(minutes=1)
    return None


def next_runs(crontab: Path, now: datetime) -> list[tuple[str, datetime | None]]:
    """Each scheduled job of ``crontab`` with its next run, soonest first."""
    lines = parse_crontab(crontab.read_text(encoding="utf-8"))
    runs = [(line.job, next_run(line, now)) for line in lines]
    return sorted(runs, key=lambda r: (r[1] is None, r[1] or now, r[0]))
