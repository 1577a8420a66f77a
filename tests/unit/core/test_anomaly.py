"""Market-data anomaly predicates (strategy.md 11)."""

from __future__ import annotations

import pytest
from bite.core.anomaly import (
    dvol_anomalies,
    index_anomalies,
    quote_anomalies,
    spot_jump_anomalies,
)

from tests.support import cfg, d, quote

A = cfg().anomaly


def test_a_plausible_quote_has_no_anomaly() -> None:
    assert quote_anomalies(quote(2800, "put"), A) == ()


@pytest.mark.parametrize(
    ("reason", "q"),
    [
        ("iv_out_of_range", quote(2800, "put", iv=9.9)),
        ("iv_out_of_range", quote(2800, "put", iv=400.1)),
        ("bid_above_ask", quote(2800, "put", bid="0.0120", ask="0.0110")),
        ("negative_price", quote(2800, "put", bid="0.0100", ask="0.0110", mark="-0.001")),
        ("price_above_bound", quote(3500, "call", bid="0.9", ask="1.01", mark="0.95")),
        ("price_above_bound", quote(2800, "put", bid="0.9", ask="0.95", mark="0.94")),
    ],
)
def test_implausible_quotes_are_flagged(reason: str, q: object) -> None:
    assert reason in quote_anomalies(q, A)  # type: ignore[arg-type]


def test_a_put_just_under_strike_over_forward_is_plausible() -> None:
    # K / F = 2800 / 3000 = 0.9333
    assert quote_anomalies(quote(2800, "put", bid="0.93", ask="0.933", mark="0.931"), A) == ()


def test_dvol_below_two_is_a_fraction_never_rescaled() -> None:
    assert dvol_anomalies(0.65, A) == ("dvol_fraction",)
    assert dvol_anomalies(9.9, A) == ("dvol_out_of_range",)
    assert dvol_anomalies(400.1, A) == ("dvol_out_of_range",)
    assert dvol_anomalies(65.0, A) == ()


def test_index_must_be_positive() -> None:
    assert index_anomalies(d(0)) == ("index_not_positive",)
    assert index_anomalies(d("2758.38")) == ()


def test_spot_jump_beyond_the_limit_is_flagged() -> None:
    assert spot_jump_anomalies(d(3751), d(3000), A) == ("spot_jump",)
    assert spot_jump_anomalies(d(3750), d(3000), A) == ()
    assert spot_jump_anomalies(d(2249), d(3000), A) == ("spot_jump",)
    assert spot_jump_anomalies(d(3000), None, A) == ()
