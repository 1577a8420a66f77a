"""Liquidity gate (strategy.md 6)."""

from __future__ import annotations

import pytest
from bite.core.liquidity_gate import check_liquidity
from bite.core.types import OptionQuote

from tests.support import cfg, d, quote

CFG = cfg()
SHORT = quote(2800, "put", bid="0.0120", ask="0.0130")
LONG = quote(2650, "put", bid="0.0060", ask="0.0065")


def gate(short: OptionQuote = SHORT, long: OptionQuote = LONG) -> tuple[str, ...]:
    return check_liquidity(short, long, 3, CFG, spot=d(3000)).reasons


def test_passes_a_liquid_pair() -> None:
    result = check_liquidity(SHORT, LONG, 3, CFG, spot=d(3000))
    assert result.passed
    assert dict(result.numbers)["net_credit_touch_usd"] == str((d("0.0055") - d("0.0006")) * 3000)


@pytest.mark.parametrize(
    ("reason", "short", "long"),
    [
        ("no_bid", quote(2800, "put", bid=None, ask="0.0130", mark="0.0125"), LONG),
        ("no_bid", quote(2800, "put", bid="0", ask="0.0130", mark="0.0125"), LONG),
        ("no_ask", SHORT, quote(2650, "put", bid="0.0060", ask=None, mark="0.0062")),
        ("wide_spread", quote(2800, "put", bid="0.0100", ask="0.0130"), LONG),
        ("wide_spread", SHORT, quote(2650, "put", bid="0.0050", ask="0.0065")),
        ("low_open_interest", quote(2800, "put", bid="0.0120", ask="0.0130", oi=49), LONG),
        ("low_open_interest", SHORT, quote(2650, "put", bid="0.0060", ask="0.0065", oi=10)),
        ("credit_too_small", quote(2800, "put", bid="0.0072", ask="0.0075"), LONG),
    ],
)
def test_each_liquidity_reason_fires(reason: str, short: OptionQuote, long: OptionQuote) -> None:
    assert reason in gate(short, long)


def test_spread_at_exactly_the_limit_passes() -> None:
    # (0.0130 - 0.0100) / 0.0115 = 0.26 fails; (0.0125 - 0.0100) / 0.01125 = 0.222 passes
    assert "wide_spread" not in gate(quote(2800, "put", bid="0.0100", ask="0.0125"))


def test_open_interest_at_the_minimum_passes() -> None:
    assert "low_open_interest" not in gate(quote(2800, "put", bid="0.0120", ask="0.0130", oi=50))


def test_credit_just_above_five_dollars_passes() -> None:
    # touch 0.0080 - 0.0065 = 0.0015 less 0.0006 fees = 0.0009 ETH = 2.7 USD: fails
    assert "credit_too_small" in gate(quote(2800, "put", bid="0.0080", ask="0.0085"))
    # touch 0.0088 - 0.0065 = 0.0023 less 0.0006 = 0.0017 ETH = 5.1 USD: passes
    assert "credit_too_small" not in gate(quote(2800, "put", bid="0.0088", ask="0.0092"))


def test_collects_every_reason_once() -> None:
    bad = quote(2800, "put", bid=None, ask="0.0130", mark="0.0125", oi=1)
    reasons = gate(bad, quote(2650, "put", bid="0.0060", ask=None, mark="0.0062", oi=1))
    assert reasons == ("no_bid", "no_ask", "low_open_interest", "credit_too_small")
