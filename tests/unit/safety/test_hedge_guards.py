"""The hedge order's guards: checked right before the send, independent of the core."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bite.safety.order_guards import hedge_guard_problems

from tests.support import cfg

GOOD = ("bite-h202603021400", "ETH-PERPETUAL", "sell", 30000, Decimal("2999.65"))
MARK = Decimal("3000.30")


def test_a_well_formed_hedge_order_passes() -> None:
    assert hedge_guard_problems(*GOOD, MARK, cfg(hedge={"mode": "usd"})) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({0: "bite-abc123"}, "is not a hedge's"),
        ({1: "BTC-PERPETUAL"}, "is not ETH-PERPETUAL"),
        ({2: "short"}, "side 'short'"),
        ({3: 0}, "amount 0 outside"),
        ({3: 250001}, "amount 250001 outside"),
        ({4: Decimal("2999.63")}, "not on the 0.05 tick"),
        ({4: Decimal("3100.00")}, "more than 1 % from the mark"),
    ],
)
def test_each_wrong_field_is_named(change: dict[int, object], problem: str) -> None:
    label, instrument, side, amount, price = (change.get(i, v) for i, v in enumerate(GOOD))
    found = hedge_guard_problems(
        str(label),
        str(instrument),
        str(side),
        int(str(amount)),
        Decimal(str(price)),
        MARK,
        cfg(hedge={"mode": "usd"}),
    )
    assert len(found) == 1 and problem in found[0], found
