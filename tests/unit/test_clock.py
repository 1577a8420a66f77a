"""The time format of the audit log and the database (``bite.clock.iso_z``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bite.clock import iso_z, parse_instant
from hypothesis import given
from hypothesis import strategies as st

INSTANTS = st.datetimes(  # hypothesis takes naive bounds and adds the zone itself
    min_value=datetime(2000, 1, 2),  # noqa: DTZ001
    max_value=datetime(2199, 12, 30),  # noqa: DTZ001
    timezones=st.just(UTC),
)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


@given(INSTANTS, OFFSETS)
def test_iso_z_writes_utc_to_the_microsecond_whatever_the_zone(
    instant: datetime, zone: timezone
) -> None:
    text = iso_z(instant.astimezone(zone))
    assert text == instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(text) == 27 and parse_instant(text) == instant
    assert iso_z(instant.astimezone(zone)) is text  # the same instant: the text kept
