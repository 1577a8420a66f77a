"""The order label (core.labels): made, read back and told apart, both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bite.core import labels
from hypothesis import given
from hypothesis import strategies as st

ids = st.text(alphabet="abcdef0123456789_", min_size=1, max_size=40)


@given(proposal_id=ids, attempt=st.integers(min_value=1, max_value=99))
def test_a_label_reads_back_as_what_made_it(proposal_id: str, attempt: int) -> None:
    entry = labels.parse(labels.make(proposal_id))
    exit_ = labels.parse(labels.make(proposal_id, "exit", attempt))
    assert entry == labels.Label(proposal_id, "entry", 0)
    assert exit_ == labels.Label(proposal_id, "exit", attempt)
    assert entry.directions == ("sell", "buy")
    assert exit_.directions == ("buy", "sell")


@pytest.mark.parametrize(
    "label", ["", "bite-", "other-p1", "BITE-p1", "bite-p1-", "bite-p1 x2", "bite-" + "a" * 70]
)
def test_what_is_not_ours(label: str) -> None:
    assert not labels.is_ours(label)


def test_a_backtest_id_with_dashes_reads_back() -> None:
    assert labels.parse("bite-bt7-2022010314-x3") == labels.Label("bt7-2022010314", "exit", 3)


def test_too_long_or_a_zeroth_exit_is_refused() -> None:
    with pytest.raises(ValueError, match="64"):
        labels.make("x" * 60)
    with pytest.raises(ValueError, match="from 1"):
        labels.make("p1", "exit", 0)


@given(
    minute=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - naive bounds, UTC below
        max_value=datetime(2999, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_a_hedge_label_reads_back_as_a_hedge_of_its_minute(minute: datetime) -> None:
    label = labels.make_hedge(minute)
    assert label == f"bite-h{minute:%Y%m%d%H%M}"
    assert labels.parse(label) == labels.Label(f"{minute:%Y%m%d%H%M}", "hedge", 0)
    assert labels.is_ours(label)


def test_a_hedge_label_is_not_taken_for_an_entry_and_cannot_be_made_as_one() -> None:
    assert labels.parse("bite-h2026030218") is not None  # too short for a hedge: an entry id
    assert labels.parse("bite-h2026030218").kind == "entry"  # type: ignore[union-attr]
    assert labels.parse("bite-h202603021800-x1") == labels.Label("h202603021800", "exit", 1)
    with pytest.raises(ValueError, match="make_hedge"):
        labels.make("202603021800", "hedge")
