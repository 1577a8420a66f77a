"""Greeks aggregate additively (strategy.md 9)."""

from __future__ import annotations

import pytest
from bite.core.greeks_aggregator import SignedLeg, aggregate_greeks, combine
from bite.core.types import Greeks
from hypothesis import given
from hypothesis import strategies as st

greek = st.floats(-10, 10, allow_nan=False)
legs = st.lists(
    st.builds(
        SignedLeg,
        sign=st.sampled_from([-1, 1]),
        amount=st.integers(0, 50).map(float),
        greeks=st.builds(Greeks, greek, greek, greek, greek),
    ),
    max_size=6,
)


def test_a_short_put_spread_has_positive_delta() -> None:
    net = aggregate_greeks(
        [
            SignedLeg(-1, 3, Greeks(-0.2, 0.001, 2.0, -3.0)),
            SignedLeg(1, 3, Greeks(-0.1, 0.0005, 1.2, -2.0)),
        ]
    )
    assert net.delta == pytest.approx(0.3)
    assert net.vega == pytest.approx(-2.4)
    assert net.theta == pytest.approx(3.0)


@given(legs, legs)
def test_greeks_aggregate_additively(a: list[SignedLeg], b: list[SignedLeg]) -> None:
    whole = aggregate_greeks(a + b)
    parts = combine([aggregate_greeks(a), aggregate_greeks(b)])
    for name in ("delta", "gamma", "vega", "theta"):
        assert getattr(whole, name) == pytest.approx(getattr(parts, name), abs=1e-9)


@given(legs)
def test_flipping_every_sign_negates_the_greeks(a: list[SignedLeg]) -> None:
    flipped = [SignedLeg(-leg.sign, leg.amount, leg.greeks) for leg in a]
    assert aggregate_greeks(flipped).delta == pytest.approx(-aggregate_greeks(a).delta, abs=1e-9)
