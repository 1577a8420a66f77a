"""The hourly monitor's rule (core.monitor_schedule) and a risk exit's crossing ladders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bite.config.schema import ScheduleConfig
from bite.core.exit_decision import crossing_ladder
from bite.core.monitor_schedule import decision_due, last_slot
from hypothesis import given
from hypothesis import strategies as st

CFG = ScheduleConfig()  # decisions at 06:00 and 18:00, wake at 3 % move or 5 % from a strike
T = datetime(2026, 3, 3, 6, tzinfo=UTC)
FAR = [Decimal(2400)]
LATER = [T + timedelta(days=5)]


def due(now: datetime, spot: float, last: tuple[datetime, float] | None, **kw: object) -> list[str]:
    decided = (last[0], Decimal(str(last[1]))) if last else None
    return decision_due(
        now,
        Decimal(str(spot)),
        decided,
        kw.get("strikes", FAR),  # type: ignore[arg-type]
        kw.get("expiries", LATER),  # type: ignore[arg-type]
        bool(kw.get("pending", False)),
        CFG,
    )


def test_the_scheduled_hours_decide_and_the_hours_between_do_not() -> None:
    assert due(T, 3000, None) == ["scheduled"]
    assert due(T, 3000, (T - timedelta(hours=12), 3000)) == ["scheduled"]
    assert due(T + timedelta(hours=1), 3000, (T, 3000)) == []
    assert due(T + timedelta(hours=12), 3000, (T, 3000)) == ["scheduled"]
    # a slot missed (the 06:00 run did not happen): the next run decides
    assert due(T + timedelta(hours=3), 3000, (T - timedelta(hours=12), 3000)) == ["scheduled"]


def test_what_wakes_it_between_the_slots() -> None:
    hour = T + timedelta(hours=2)
    assert due(hour, 2900, (T, 3000)) == ["spot_moved"]  # 3.3 % since the last decision
    assert due(hour, 2950, (T, 3000)) == []  # 1.7 %
    assert due(hour, 2500, (T, 2520), strikes=[Decimal(2400)]) == ["near_short_strike"]
    assert due(hour, 3000, (T, 3000), pending=True) == ["exit_pending"]
    assert due(hour, 3000, (T, 3000), expiries=[hour]) == ["expired"]


@given(st.integers(min_value=0, max_value=6 * 365 * 24 * 60))
def test_the_last_slot_is_a_decision_hour_within_a_day(minutes: int) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    slot = last_slot(now, CFG.monitor_decision_hours_utc)
    assert slot.hour in (6, 18) and slot.minute == 0
    assert timedelta(0) <= now - slot < timedelta(hours=13)


prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.2"), places=4)


@given(touch=prices, cap=prices, k=st.integers(min_value=1, max_value=8))
def test_crossing_ladders_climb_from_the_touch_and_never_pass_the_cap(
    touch: Decimal, cap: Decimal, k: int
) -> None:
    tick = Decimal("0.0001")
    ladder = crossing_ladder(touch, cap, k, 4, 3, tick)
    assert len(ladder) == 4
    assert all(p <= max(cap, tick) for p in ladder)
    assert list(ladder) == sorted(ladder)
    if cap > touch:
        later = crossing_ladder(touch, cap, k + 1, 4, 3, tick)
        assert later[-1] >= ladder[-1]
        assert crossing_ladder(touch, cap, 4, 4, 3, tick)[-1] == cap
