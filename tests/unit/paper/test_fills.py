"""The paper venue's trading rules: a fill's leg prices add up to the order's limit."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from bite.config.schema import FeesConfig, PaperConfig
from bite.paper.chain import Chain, PaperQuote
from bite.paper.exchange import PaperExchange
from bite.paper.fills import combo_fees, combo_prices, crosses, delivery_price, split_price
from bite.paper.market import SyntheticMarket
from hypothesis import given, settings
from hypothesis import strategies as st

CHAIN = Chain(SyntheticMarket(7).state(datetime(2026, 3, 2, 14, tzinfo=UTC)), 7)
PUTS = sorted(
    (q for q in CHAIN.all_quotes() if q.listing.option_type == "put" and q.bid is not None),
    key=lambda q: (q.listing.expiry, q.listing.strike),
)


def spread(i: int) -> list[tuple[PaperQuote, str]]:
    """A bull put on one expiry: sell the higher strike, buy the next one down."""
    short = PUTS[i]
    lower = [q for q in PUTS if q.listing.expiry == short.listing.expiry]
    below = [q for q in lower if q.listing.strike < short.listing.strike]
    long = below[-1] if below else lower[0]
    return [(short, "sell"), (long, "buy")]


@settings(max_examples=60)
@given(
    i=st.integers(min_value=0, max_value=len(PUTS) - 1),
    side=st.sampled_from(["sell", "buy"]),
    limit=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.05"), places=4),
)
def test_the_legs_prices_sum_to_the_limit(i: int, side: str, limit: Decimal) -> None:
    quotes = (
        spread(i)
        if side == "sell"
        else [(q, "buy" if d == "sell" else "sell") for q, d in spread(i)]
    )
    prices = split_price(quotes, side, limit)
    signed = sum((p if d == "sell" else -p) for p, (_, d) in zip(prices, quotes, strict=True))
    assert signed == (limit if side == "sell" else -limit)


def test_a_credit_crosses_up_to_its_share_of_the_way_to_mid() -> None:
    quotes = spread(len(PUTS) // 2)
    book = combo_prices(quotes, "sell")
    assert book is not None
    half = Decimal("0.5")
    edge = book.touch + half * (book.mid - book.touch)
    assert crosses(edge, book, "sell", half)
    assert not crosses(edge + Decimal("0.0001"), book, "sell", half)


def test_a_combo_pays_only_its_dearer_legs_fee() -> None:
    fees = combo_fees([Decimal("0.02"), Decimal("0.01")], ["sell", "buy"], 3, FeesConfig())
    assert fees[1] == 0 and fees[0] > 0
    both = combo_fees(
        [Decimal("0.02"), Decimal("0.01")],
        ["sell", "buy"],
        3,
        FeesConfig(combo_single_leg_fee=False),
    )
    assert all(f > 0 for f in both)


def test_the_delivery_price_is_the_average_of_the_last_30_minutes_not_the_08_00_print() -> None:
    expiry = datetime(2026, 3, 13, 8, tzinfo=UTC)
    ramp_start = expiry - timedelta(minutes=30)

    def index_at(when: datetime) -> float:  # 3000 rising 1 USD a minute through the window
        return 3000 + (when - ramp_start).total_seconds() / 60

    price = delivery_price(index_at, expiry)
    # 450 samples ending at 08:00, one every 4 s: their mean is 3015.0667, not 3030
    expected = sum(3000 + 4 * (k + 1) / 60 for k in range(450)) / 450
    assert price == Decimal(f"{expected:.2f}")
    assert price != Decimal(f"{index_at(expiry):.2f}")


def test_the_paper_venue_settles_and_reports_the_same_delivery_price(tmp_path: Path) -> None:
    market = SyntheticMarket(7)
    expiry = datetime(2026, 3, 13, 8, tzinfo=UTC)
    expected = delivery_price(lambda t: market.state(t).index, expiry)
    exchange = PaperExchange(
        tmp_path / "paper.sqlite", market, PaperConfig(), FeesConfig(), Decimal("0.0001")
    )
    try:
        listed = exchange.delivery_prices(expiry + timedelta(hours=1), 1)
    finally:
        exchange.close()
    assert listed == [{"date": "2026-03-13", "delivery_price": float(expected)}]


@settings(max_examples=80)
@given(
    i=st.integers(min_value=0, max_value=len(PUTS) - 1),
    side=st.sampled_from(["sell", "buy"]),
    ticks_inside=st.integers(min_value=1, max_value=40),
)
def test_at_the_touch_a_limit_inside_the_touch_never_fills(
    i: int, side: str, ticks_inside: int
) -> None:
    """``paper.fills: touch``: a credit below the touch credit, a debit above the touch debit
    only; ``improve`` fills some of the same limits (half the way to the mid)."""
    quotes = (
        spread(i)
        if side == "sell"
        else [(q, "buy" if d == "sell" else "sell") for q, d in spread(i)]
    )
    prices = combo_prices(quotes, side)
    if prices is None:
        return
    inside = Decimal("0.0001") * ticks_inside
    limit = prices.touch + inside if side == "sell" else prices.touch - inside
    assert not crosses(limit, prices, side, Decimal(0))
    assert crosses(prices.touch, prices, side, Decimal(0))


def test_the_exchange_fills_at_the_touch_only_when_told(tmp_path: Path) -> None:
    market = SyntheticMarket(7)
    now = datetime(2026, 3, 2, 14, tzinfo=UTC)
    quotes = spread(len(PUTS) // 3)
    prices = combo_prices(quotes, "sell")
    assert prices is not None and prices.mid - prices.touch >= Decimal("0.0002")
    limit = prices.touch + Decimal("0.0001")  # inside the touch, short of halfway to the mid
    legs = [{"instrument_name": q.listing.name, "direction": d} for q, d in quotes]
    states = {}
    for fills in ("touch", "improve"):
        exchange = PaperExchange(
            tmp_path / f"{fills}.sqlite",
            market,
            PaperConfig(fills=fills),
            FeesConfig(),
            Decimal("0.0001"),
        )
        try:
            order = exchange.place_combo_order(legs, "sell", 1, str(limit), f"bite-{fills}", now)
            states[fills] = order["order"]["order_state"]
        finally:
            exchange.close()
    assert states == {"touch": "open", "improve": "filled"}


def test_a_fill_that_fails_half_way_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fill is one transaction: the disk failing on its second leg leaves no trade, no
    position, the cash and the order as they were; the next look fills it whole."""
    market = SyntheticMarket(7)
    now = datetime(2026, 3, 2, 14, tzinfo=UTC)
    quotes = spread(len(PUTS) // 3)
    prices = combo_prices(quotes, "sell")
    assert prices is not None
    legs = [{"instrument_name": q.listing.name, "direction": d} for q, d in quotes]
    exchange = PaperExchange(
        tmp_path / "paper.sqlite", market, PaperConfig(), FeesConfig(), Decimal("0.0001")
    )
    try:
        resting = exchange.place_combo_order(
            legs, "sell", 1, str(prices.touch + Decimal("0.0050")), "bite-t", now
        )["order"]
        assert resting["order_state"] == "open"
        cash = exchange._account()["cash_eth"]
        real = exchange._move_position
        calls = []

        def failing(name: str, delta: Decimal, price: Decimal) -> None:
            calls.append(name)
            if len(calls) == 2:
                raise sqlite3.OperationalError("disk I/O error")
            real(name, delta, price)

        monkeypatch.setattr(exchange, "_move_position", failing)
        with pytest.raises(sqlite3.OperationalError):
            exchange.edit_order(resting["order_id"], str(prices.touch), now)
        rows = [
            exchange.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("trades", "positions")
        ]
        assert rows == [0, 0]
        assert exchange._account()["cash_eth"] == cash
        assert exchange._get(resting["order_id"])["filled_amount"] == 0
        monkeypatch.setattr(exchange, "_move_position", real)
        exchange.touch(now)  # the next look at the book fills it, whole
        assert exchange._get(resting["order_id"])["state"] == "filled"
        count = exchange.conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        assert (count, len(exchange.positions())) == (2, 2)
    finally:
        exchange.close()
