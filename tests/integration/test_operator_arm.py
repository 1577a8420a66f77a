"""An operator's arm during a working order stops its next edit: the order is cancelled."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bite.clock import VirtualClock
from bite.context import open_state
from bite.core.ticks import round_up
from bite.jobs.boot import boot
from bite.jobs.orders import OrderPlan, work_order
from bite.safety.order_guards import GuardedOrder

from tests.support import sample_proposal

NOW = datetime(2026, 1, 5, 14, tzinfo=UTC)


def test_an_arm_between_two_steps_cancels_the_order_and_sends_no_edit(tmp_path: Path) -> None:
    config = tmp_path / "strategy.yaml"
    config.write_text("", encoding="utf-8")
    data = tmp_path / "data"
    clock = VirtualClock(NOW)

    async def main() -> tuple[str | None, str, int, list[str]]:
        run = await boot("entry-run", "entry", config, data, clock, dry_run=False, environ={})
        try:
            chain = await run.clients.deribit.chain()
            puts = sorted(
                (
                    q
                    for q in chain.quotes
                    if q.option_type == "put"
                    and q.bid
                    and q.expiry.day == 16
                    and q.strike < q.forward
                ),
                key=lambda q: -q.strike,
            )
            short = await run.clients.deribit.ticker(puts[4].name)
            long = await run.clients.deribit.ticker(puts[7].name)
            mid = round_up(short.mid - long.mid, Decimal("0.0001")) + Decimal("0.0010")
            legs = [
                {"instrument_name": short.name, "direction": "sell"},
                {"instrument_name": long.name, "direction": "buy"},
            ]
            guarded = GuardedOrder(
                kind="entry",
                proposal_id="p1",
                label="bite-p1",
                attempt=0,
                legs=(
                    (short.name, "sell", "put", short.strike, "x"),
                    (long.name, "buy", "put", long.strike, "x"),
                ),
                side="sell",
                amount=1,
                price=mid,
                width_usd=short.strike - long.strike,
                forward=short.forward,
                spread_type="bull_put",
                held=0,
                sizing_loss_eur=Decimal(100),
            )
            run.state.repo.insert_proposed(
                replace(sample_proposal(), proposal_id="p1", label="bite-p1"),
                sizing_loss_eur=Decimal(100),
                dvol_at_entry=60,
                sample_id=None,
            )

            async def reprice(step: int) -> Decimal | None:
                operator = open_state(data)  # the operator's own process and connection
                operator.kill_switch.arm(
                    "operator says stop", "operational", "operator", clock.now()
                )
                operator.close()
                return mid - Decimal("0.0005")

            plan = OrderPlan(
                position_id="p1",
                kind="entry",
                attempt=0,
                guarded=guarded,
                legs=legs,
                ladder=(mid,),
                reprice=reprice,
                risk_exit=False,
                sent_point="after_order_sent",
            )
            outcome = await work_order(run, plan)
            found = await run.clients.deribit.orders_by_label("bite-p1")
            edits = run.clients.http.stats().counts.get("deribit.edit_order", 0)
            return outcome.refused, found[0].state, edits, [str(p) for p in outcome.prices]
        finally:
            await run.clients.aclose()
            run.state.close()

    refused, broker_state, edits, prices = asyncio.run(main())
    assert refused == "kill_switch_armed"
    assert broker_state == "cancelled"
    assert edits == 0
    assert len(prices) == 1
