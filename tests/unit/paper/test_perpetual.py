"""The paper venue's ETH-PERPETUAL through the real clients: inverse P&L, fees, funding."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from bite.clients.deribit_json import OrderResult
from bite.clock import VirtualClock
from bite.context import Clients
from bite.core.hedge import PerpPosition, PerpQuote
from bite.errors import McpRequestError
from bite.paper.perpetual import TAKER_FEE

from tests.paper_support import flat_config, later, with_clients

PERP = "ETH-PERPETUAL"


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "throwaway"])
def test_a_short_fills_at_the_bid_with_the_taker_fee_and_a_limit_short_of_the_touch_rests(
    tmp_path: Path, durable: bool
) -> None:
    """The account's margin counts the short from the instant it fills (a backtest's
    throwaway account keeps the position's book for the instant only until it changes)."""
    cfg = flat_config(tmp_path)

    async def body(
        c: Clients, clock: VirtualClock
    ) -> tuple[PerpQuote, OrderResult, PerpPosition, OrderResult, list[str], list[Decimal]]:
        margins = [(await c.deribit.account_summary()).initial_margin]
        quote = await c.deribit.perp_ticker(PERP)
        sold = await c.deribit.place_order(PERP, "sell", 30000, quote.bid, "bite-h202601051400")
        held = await c.deribit.perp_position(PERP)
        margins.append((await c.deribit.account_summary()).initial_margin)
        missed = await c.deribit.place_order(
            PERP, "buy", 100, quote.bid - Decimal(50), "bite-h202601051401"
        )
        open_orders = await c.deribit.open_orders()
        return quote, sold, held, missed, [o.label for o in open_orders], margins

    quote, sold, held, missed, working, margins = with_clients(cfg, tmp_path, body, durable=durable)
    assert margins[0] == 0 and margins[1] == held.initial_margin_eth > 0  # the same instant
    assert sold.order.state == "filled" and sold.order.filled_amount == 30000
    assert sold.trades[0].price == quote.bid  # a taker: at the touch
    fee = Decimal(30000) / quote.bid * TAKER_FEE
    assert sold.trades[0].fee == pytest.approx(fee, abs=Decimal("1e-12"))  # JSON's float
    assert held.size_usd == -30000
    assert quote.bid < quote.mark < quote.ask
    assert missed.order.state == "open"
    assert working == ["bite-h202601051401"]  # a limit below the ask rests


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "throwaway"])
def test_a_position_is_marked_inverse_and_funding_is_paid_every_hour(
    tmp_path: Path, durable: bool
) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> tuple[PerpPosition, PerpPosition, Decimal]:
        quote = await c.deribit.perp_ticker(PERP)
        await c.deribit.place_order(PERP, "sell", 10000, quote.bid, "bite-h202601051400")
        opened = await c.deribit.perp_position(PERP)
        later(clock, hours=5)
        held = await c.deribit.perp_position(PERP)
        mark = (await c.deribit.perp_ticker(PERP)).mark
        return opened, held, mark

    opened, held, mark = with_clients(cfg, tmp_path, body, durable=durable)
    # inverse: a short of N USD at P0 is worth N x (1/P1 - 1/P0) ETH at P1
    expected = Decimal(10000) * (1 / mark - 1 / opened.average_price)
    assert held.floating_pnl_eth == pytest.approx(expected, abs=Decimal("1e-9"))
    # five hours of the flat market's positive funding: paid by longs, received by the short
    assert held.realized_funding_eth > 0
    assert opened.realized_funding_eth == 0


def test_the_venue_refuses_other_instruments_and_off_tick_prices(tmp_path: Path) -> None:
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> tuple[OrderResult, str]:
        quote = await c.deribit.perp_ticker(PERP)
        off = await c.deribit.place_order(
            PERP, "sell", 10, quote.bid + Decimal("0.01"), "bite-h202601051400"
        )
        with pytest.raises(McpRequestError) as other:
            await c.deribit.place_order("BTC-PERPETUAL", "sell", 10, quote.bid, "bite-h2")
        return off, str(other.value)

    off, message = with_clients(cfg, tmp_path, body)
    assert (off.order.state, off.order.reject_reason) == ("rejected", "price_wrong_tick")
    assert "only ETH-PERPETUAL" in message


def test_without_market_funding_the_position_pays_none(tmp_path: Path) -> None:
    base = flat_config(tmp_path)
    cfg = base.model_copy(
        update={"paper": base.paper.model_copy(update={"perpetual_funding": "none"})}
    )

    async def body(c: Clients, clock: VirtualClock) -> PerpPosition:
        quote = await c.deribit.perp_ticker(PERP)
        await c.deribit.place_order(PERP, "sell", 10000, quote.bid, "bite-h202601051400")
        later(clock, hours=5)
        return await c.deribit.perp_position(PERP)

    assert with_clients(cfg, tmp_path, body).realized_funding_eth == 0


def test_a_position_the_equity_cannot_margin_is_refused(tmp_path: Path) -> None:
    """10 ETH of equity cannot margin a 100 million USD short (Deribit's rule: about 2.1 %
    of 33,000 ETH and more), while buying back what is held always goes."""
    cfg = flat_config(tmp_path)

    async def body(c: Clients, clock: VirtualClock) -> tuple[OrderResult, OrderResult]:
        quote = await c.deribit.perp_ticker(PERP)
        huge = await c.deribit.place_order(
            PERP, "sell", 100_000_000, quote.bid, "bite-h202601051400"
        )
        await c.deribit.place_order(PERP, "sell", 10000, quote.bid, "bite-h202601051401")
        back = await c.deribit.place_order(PERP, "buy", 10000, quote.ask, "bite-h202601051402")
        return huge, back

    huge, back = with_clients(cfg, tmp_path, body)
    assert (huge.order.state, huge.order.reject_reason) == ("rejected", "not_enough_funds")
    assert back.order.state == "filled"
