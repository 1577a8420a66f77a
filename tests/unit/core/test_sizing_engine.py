"""Sizing (strategy.md 5): the budget, every cap, and the binding one."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from bite.core.margin import short_option_initial_margin
from bite.core.sizing_engine import compute_contracts
from bite.core.types import SizingContext
from hypothesis import given
from hypothesis import strategies as st

from tests.support import cfg, d, quote

CFG = cfg()


def ctx(**changes: Any) -> SizingContext:
    base = SizingContext(
        equity_eur=d(30000),
        equity_eth=d(10),
        eur_usd=d("1.10"),
        risk_fraction=0.02,
        halve_for_macro=False,
        width_usd=d(150),
        fees_round_trip_eth=d("0.0006"),
        spot=d(3000),
        short=quote(2800, "put", bid_amount=100.0),
        long=quote(2650, "put", ask_amount=100.0),
        account_initial_margin_eth=d(0),
        order_margin_eth_per_contract=d("0.01"),
    )
    return replace(base, **changes)


def test_budget_is_equity_times_risk_fraction_over_the_sizing_loss() -> None:
    result = compute_contracts(ctx(), CFG)
    # 30000 x 0.02 = 600 EUR; sizing loss (150 + 1.8) / 1.1 = 138 EUR -> 4 contracts
    assert result.budget_eur == d(600)
    assert result.sizing_loss_eur == (d(150) + d("1.8")) / d("1.10")
    assert result.contracts == 4
    assert result.binding_cap == "budget"
    assert result.reason is None


def test_budget_is_capped_by_max_loss_per_trade() -> None:
    result = compute_contracts(ctx(equity_eur=d(1_000_000)), CFG)
    assert result.budget_eur == d(2000)
    assert result.contracts == 14


def test_macro_hold_halves_the_budget_before_the_caps() -> None:
    result = compute_contracts(ctx(equity_eur=d(1_000_000), halve_for_macro=True), CFG)
    assert result.budget_eur == d(1000)
    assert result.contracts == 7


def test_undersize_when_the_budget_buys_no_contract() -> None:
    result = compute_contracts(ctx(equity_eur=d(5000)), CFG)
    assert result.contracts == 0
    assert result.reason == "undersize"


def test_thin_book_when_the_top_of_book_is_empty() -> None:
    result = compute_contracts(ctx(short=quote(2800, "put", bid_amount=0.5)), CFG)
    assert result.n_depth == 0
    assert result.reason == "thin_book"


def test_depth_caps_at_the_smaller_book_over_the_multiple() -> None:
    thin = cfg(liquidity={"min_depth_multiple": 2.0})
    result = compute_contracts(
        ctx(equity_eur=d(1_000_000), long=quote(2650, "put", ask_amount=7.0)), thin
    )
    assert result.n_depth == 3
    assert result.contracts == 3
    assert result.binding_cap == "depth"


def test_margin_when_the_account_already_uses_its_share() -> None:
    result = compute_contracts(ctx(account_initial_margin_eth=d("2.5")), CFG)
    assert result.n_margin == 0
    assert result.reason == "margin"


def test_margin_falls_back_to_the_standard_formula_without_a_broker_estimate() -> None:
    short = quote(2800, "put", bid="0.0120", ask="0.0130")
    result = compute_contracts(ctx(order_margin_eth_per_contract=None, short=short), CFG)
    per = short_option_initial_margin(short, short.forward)
    # OTM distance 200 / 3000 = 0.0667 -> max(0.0833, 0.1) + mark 0.0125
    assert per == d("0.1") + d("0.0125")
    assert result.margin_source == "standard_formula"
    assert result.n_margin == int(d("2.5") / per)


def test_max_contracts_caps_a_large_budget() -> None:
    result = compute_contracts(
        ctx(equity_eur=d(10**7), width_usd=d(1)), cfg(sizing={"max_loss_per_trade_eur": 10**6})
    )
    assert result.contracts == 50
    assert result.binding_cap == "max_contracts"


money = st.decimals(min_value=Decimal(100), max_value=Decimal(10**7), places=2)


@given(
    equity=money,
    risk=st.floats(0.001, 0.05),
    width=st.integers(25, 600),
    bid_amount=st.floats(0, 500),
    ask_amount=st.floats(0, 500),
    used=st.decimals(min_value=Decimal(0), max_value=Decimal(5), places=3),
    per=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.5"), places=4),
    halve=st.booleans(),
)
def test_sizing_never_exceeds_any_cap_and_names_the_binding_one(
    equity: Decimal,
    risk: float,
    width: int,
    bid_amount: float,
    ask_amount: float,
    used: Decimal,
    per: Decimal,
    halve: bool,
) -> None:
    c = ctx(
        equity_eur=equity,
        equity_eth=equity / 3000,
        risk_fraction=risk,
        width_usd=Decimal(width),
        short=quote(2800, "put", bid_amount=bid_amount),
        long=quote(2650, "put", ask_amount=ask_amount),
        account_initial_margin_eth=used,
        order_margin_eth_per_contract=per,
        halve_for_macro=halve,
    )
    r = compute_contracts(c, CFG)
    n = r.contracts
    assert n >= 0
    assert n <= CFG.sizing.max_contracts
    assert n * r.sizing_loss_eur <= r.budget_eur <= CFG.sizing.max_loss_per_trade_eur
    assert n <= min(bid_amount, ask_amount) / CFG.liquidity.min_depth_multiple
    assert (
        used + n * per <= Decimal(str(CFG.sizing.max_initial_margin_fraction)) * c.equity_eth
        or n == 0
    )
    caps = {"budget": r.n_budget, "depth": r.n_depth, "margin": r.n_margin}
    if n < 1:
        assert r.reason in {"undersize", "thin_book", "margin"}
        named = {"undersize": "budget", "thin_book": "depth", "margin": "margin"}[r.reason]
        assert caps[named] == 0
    else:
        assert r.reason is None
