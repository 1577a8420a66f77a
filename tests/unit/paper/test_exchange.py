"""The paper account through the real clients: fills, resting orders, edit, cancel, settlement."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from bite.clients.deribit_json import OrderResult
from bite.clock import VirtualClock
from bite.context import Clients
from bite.core.fees import leg_fee
from bite.core.strike_selector import select_strikes
from bite.core.ticks import round_down, round_up
from bite.core.types import OptionQuote
from bite.paper.exchange import PaperExchange
from bite.paper.series import build_market

from tests.paper_support import flat_config, later, with_clients

TICK = Decimal("0.0001")


async def pair(c: Clients, clock: VirtualClock) -> tuple[OptionQuote, OptionQuote]:
    chain = await c.deribit.chain()
    index, _ = await c.deribit.index_price()
    assert c.paper is not None
    chosen = select_strikes(chain.quotes, "bull", index, clock.now(), c.paper.cfg)
    assert chosen is not None
    return await c.deribit.ticker(chosen.short.name), await c.deribit.ticker(chosen.long.name)


def legs(short: OptionQuote, long: OptionQuote, entry: bool = True) -> list[dict[str, str]]:
    return [
        {"instrument_name": short.name, "direction": "sell" if entry else "buy"},
        {"instrument_name": long.name, "direction": "buy" if entry else "sell"},
    ]


def touch_mid(short: OptionQuote, long: OptionQuote) -> tuple[Decimal, Decimal]:
    assert short.bid is not None and long.ask is not None
    return short.bid - long.ask, short.mid - long.mid


def test_a_credit_fills_up_to_the_improvement_share_and_rests_above(tmp_path: Path) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> tuple[OrderResult, OrderResult, Decimal]:
        short, long = await pair(c, clock)
        touch, mid = touch_mid(short, long)
        limit = touch + Decimal("0.5") * (mid - touch)
        at = await c.deribit.place_combo_order(
            legs(short, long), "sell", 2, round_down(limit, TICK), "bite-a"
        )
        above = await c.deribit.place_combo_order(
            legs(short, long), "sell", 2, round_up(limit, TICK) + TICK, "bite-b"
        )
        return at, above, touch

    at, above, _ = with_clients(cfg, tmp_path, body)
    assert at.order.state == "filled"
    assert at.order.filled_amount == 2
    assert at.order.average_price == at.order.price
    assert len(at.trades) == 2
    assert above.order.state == "open"
    assert above.order.filled_amount == 0


def test_the_legs_split_the_combo_price_and_one_leg_pays_the_fee(tmp_path: Path) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> tuple[OrderResult, OptionQuote, OptionQuote]:
        short, long = await pair(c, clock)
        touch, _ = touch_mid(short, long)
        result = await c.deribit.place_combo_order(legs(short, long), "sell", 1, touch, "bite-c")
        return result, short, long

    result, short, long = with_clients(cfg, tmp_path, body)
    by_leg = {t.instrument_name: t for t in result.trades}
    assert by_leg[long.name].price == long.ask  # the cheaper leg at its touch
    assert by_leg[short.name].price - by_leg[long.name].price == result.order.price
    fees = sorted(t.fee for t in result.trades)
    assert fees[0] == 0
    assert fees[1] == leg_fee(by_leg[short.name].price, cfg.fees)


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "throwaway"])
def test_a_fill_never_exceeds_the_top_of_book_amount(tmp_path: Path, durable: bool) -> None:
    """Nor does asking again in the same instant offer the touch twice; the next instant
    offers it again."""
    cfg = flat_config(tmp_path, {"sizing": {"max_contracts": 1000}})

    async def body(c: Clients, clock: VirtualClock) -> tuple[OrderResult, float, list[int]]:
        short, long = await pair(c, clock)
        touch, _ = touch_mid(short, long)
        top = min(short.bid_amount or 0, long.ask_amount or 0)
        result = await c.deribit.place_combo_order(
            legs(short, long), "sell", int(top) + 50, touch, "bite-d"
        )
        filled = []
        for _ in range(3):  # each of these touches the venue at the same instant
            await c.deribit.account_summary()
            filled.append((await c.deribit.orders_by_label("bite-d"))[0].filled_amount)
        later(clock, minutes=1)
        filled.append((await c.deribit.orders_by_label("bite-d"))[0].filled_amount)
        return result, top, filled

    cfg_big = cfg.model_copy(
        update={"paper": cfg.paper.model_copy(update={"starting_equity_eth": Decimal(100000)})}
    )
    result, top, filled = with_clients(cfg_big, tmp_path, body, durable=durable)
    assert result.order.filled_amount == int(top)
    assert result.order.state == "open"
    assert filled == [int(top)] * 3 + [min(2 * int(top), int(top) + 50)]


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "throwaway"])
def test_edit_moves_a_resting_order_and_cancel_after_fill_returns_it_filled(
    tmp_path: Path, durable: bool
) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> list[str]:
        short, long = await pair(c, clock)
        touch, mid = touch_mid(short, long)
        placed = await c.deribit.place_combo_order(
            legs(short, long), "sell", 1, round_up(mid, TICK) + TICK, "bite-e"
        )
        states = [placed.order.state]
        edited = await c.deribit.edit_order(placed.order.order_id, touch)
        states.append(edited.order.state)
        cancelled = await c.deribit.cancel_order(placed.order.order_id)
        states.append(cancelled.state)
        again = await c.deribit.edit_order(placed.order.order_id, touch)
        states.append(again.order.state)
        found = await c.deribit.orders_by_label("bite-e")
        states.append(f"{len(found)}:{found[0].order_id == placed.order.order_id}")
        trades = await c.deribit.trades_by_order(placed.order.order_id)
        states.append(str(len(trades)))
        return states

    assert with_clients(cfg, tmp_path, body, durable=durable) == [
        "open",
        "filled",
        "filled",
        "filled",
        "1:True",
        "2",
    ]


def test_a_cancel_removes_a_resting_order(tmp_path: Path) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> tuple[str, int]:
        short, long = await pair(c, clock)
        _, mid = touch_mid(short, long)
        placed = await c.deribit.place_combo_order(
            legs(short, long), "sell", 1, round_up(mid, TICK) + 10 * TICK, "bite-f"
        )
        cancelled = await c.deribit.cancel_order(placed.order.order_id)
        return cancelled.state, len(await c.deribit.open_orders())

    assert with_clients(cfg, tmp_path, body) == ("cancelled", 0)


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "throwaway"])
def test_a_resting_order_fills_when_the_market_comes_to_it(tmp_path: Path, durable: bool) -> None:
    script = """points:
  - {time: '2026-03-02T00:00:00Z', spot: 3000, dvol: 60}
  - {time: '2026-03-02T14:00:00Z', spot: 3000, dvol: 60}
  - {time: '2026-03-02T18:00:00Z', spot: 2850, dvol: 75}
"""
    cfg = flat_config(tmp_path, script=script)

    async def body(c: Clients, clock: VirtualClock) -> tuple[str, str]:
        short, long = await pair(c, clock)
        _, mid = touch_mid(short, long)
        placed = await c.deribit.place_combo_order(
            legs(short, long), "sell", 1, round_up(mid * Decimal("1.3"), TICK), "bite-g"
        )
        later(clock, hours=4)
        orders = await c.deribit.orders_by_label("bite-g")
        return placed.order.state, orders[0].state

    assert with_clients(cfg, tmp_path, body, durable=durable) == ("open", "filled")


def test_an_order_beyond_available_funds_is_rejected_not_an_error(tmp_path: Path) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> OrderResult:
        short, long = await pair(c, clock)
        touch, _ = touch_mid(short, long)
        return await c.deribit.place_combo_order(legs(short, long), "sell", 500, touch, "bite-h")

    result = with_clients(cfg, tmp_path, body)
    assert result.order.state == "rejected"
    assert result.order.reject_reason == "not_enough_funds"
    assert result.trades == ()


def test_a_price_off_the_combo_tick_is_rejected(tmp_path: Path) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> OrderResult:
        short, long = await pair(c, clock)
        return await c.deribit.place_combo_order(
            legs(short, long), "sell", 1, Decimal("0.00123"), "bite-i"
        )

    assert with_clients(cfg, tmp_path, body).order.reject_reason == "price_wrong_tick"


def test_margin_estimate_matches_the_standard_formula(tmp_path: Path) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> tuple[Decimal | None, Decimal]:
        short, long = await pair(c, clock)
        estimate = await c.deribit.margin_estimate(legs(short, long), 2, Decimal("0.005"))
        otm = max(short.forward - short.strike, Decimal(0))
        base = max(Decimal("0.15") - otm / Decimal(f"{float(short.forward):.4f}"), Decimal("0.1"))
        return estimate, (base + short.mark) * 2

    estimate, expected = with_clients(cfg, tmp_path, body)
    assert estimate == pytest.approx(expected, rel=Decimal("1e-6"))


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "throwaway"])
def test_settlement_pays_intrinsic_usd_over_the_settlement_price_in_eth(
    tmp_path: Path, durable: bool
) -> None:
    script = """points:
  - {time: '2026-03-01T00:00:00Z', spot: 3000, dvol: 60}
  - {time: '2026-03-02T14:00:00Z', spot: 3000, dvol: 60}
  - {time: '2026-03-12T00:00:00Z', spot: 2000, dvol: 60}
  - {time: '2026-04-01T00:00:00Z', spot: 2000, dvol: 60}
"""
    cfg = flat_config(tmp_path, script=script)

    async def body(
        c: Clients, clock: VirtualClock
    ) -> tuple[OptionQuote, OptionQuote, OrderResult, Decimal]:
        short, long = await pair(c, clock)
        touch, _ = touch_mid(short, long)
        placed = await c.deribit.place_combo_order(legs(short, long), "sell", 1, touch, "bite-j")
        later(clock, days=12)
        equity = (await c.deribit.account_summary()).equity
        assert await c.deribit.positions() == []
        return short, long, placed, equity

    short, long, placed, equity = with_clients(cfg, tmp_path, body, durable=durable)
    assert placed.order.state == "filled"
    conn = sqlite3.connect(tmp_path / "paper.sqlite")
    rows = {
        r[0]: (Decimal(r[1]), Decimal(r[2]), Decimal(r[3]), Decimal(r[4]))
        for r in conn.execute(
            "SELECT instrument_name, size, delivery_price, payoff_eth, fee FROM settlements"
        )
    }
    conn.close()
    for leg, size in ((short, Decimal(-1)), (long, Decimal(1))):
        got_size, delivery, payoff, fee = rows[leg.name]
        assert (got_size, delivery) == (size, Decimal("2000.00"))
        assert payoff == (leg.strike - delivery) / delivery  # intrinsic USD / settlement, ETH
        assert fee == min(cfg.fees.delivery_fee_pct / 100, Decimal("0.125") * payoff)
    trades_cash = placed.order.price - sum((t.fee for t in placed.trades), Decimal(0))
    settled = sum(size * payoff - fee for size, _, payoff, fee in rows.values())
    assert equity == cfg.paper.starting_equity_eth + trades_cash + settled


def test_closed_orders_and_old_trades_leave_the_recent_lists_as_on_deribit(
    tmp_path: Path,
) -> None:
    """30 minutes for an order, 24 hours for its fills; ``historical`` finds them still."""
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> list[tuple[int, int]]:
        short, long = await pair(c, clock)
        touch, _ = touch_mid(short, long)
        placed = await c.deribit.place_combo_order(
            legs(short, long), "sell", 1, round_down(touch, TICK), "bite-h"
        )
        order_id = placed.order.order_id
        seen = []
        for hours in (0.0, 1.0, 48.0):
            later(clock, hours=hours)
            recent = await c.deribit.orders_by_label("bite-h")
            every = await c.deribit.orders_by_label("bite-h", historical=True)
            fills = await c.deribit.trades_by_order(order_id)  # bite always asks history
            assert len(fills) == 2
            seen.append((len(recent), len(every)))
        return seen

    assert with_clients(cfg, tmp_path, body) == [(1, 1), (0, 1), (0, 1)]


def test_a_throwaway_account_reads_again_whatever_a_write_or_a_rollback_changed(
    tmp_path: Path,
) -> None:
    """A backtest's account keeps the rows of its fixed queries between writes: a write
    is seen at once, and so is a rollback (rows read inside a transaction are not kept)."""
    cfg = flat_config(tmp_path)
    venue = PaperExchange(
        tmp_path / "paper.sqlite",
        build_market(cfg, tmp_path),
        cfg.paper,
        cfg.fees,
        cfg.execution.combo_tick,
        durable=False,
    )
    query = "SELECT * FROM positions"
    assert venue._rows(query) == []
    assert venue._rows(query) is venue._rows(query)  # kept while nothing changes
    venue.conn.execute("INSERT INTO positions VALUES ('ETH-X-1-P', '-1', '0.01')")
    assert [r["instrument_name"] for r in venue._rows(query)] == ["ETH-X-1-P"]

    def failing_booking() -> None:
        with venue._transaction():
            venue.conn.execute("DELETE FROM positions")
            assert venue._rows(query) == []  # inside the transaction: read, not kept
            raise RuntimeError("the booking failed")

    with pytest.raises(RuntimeError, match="booking failed"):
        failing_booking()
    assert [r["instrument_name"] for r in venue._rows(query)] == ["ETH-X-1-P"]
    venue.close()
