"""The entry ladder and the combo proposal (docs/strategy.md section 7)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bite.config.schema import StrategyConfig
from bite.core import labels, pricing
from bite.core.booking import max_loss_usd
from bite.core.fees import round_trip_fee
from bite.core.greeks_aggregator import SignedLeg, aggregate_greeks
from bite.core.ticks import round_down, round_up
from bite.core.types import (
    SPREAD_FOR_BIAS,
    Bias,
    ComboProposal,
    Greeks,
    OptionQuote,
    ProposalLeg,
)


def required_credit(
    width_usd: Decimal, spot: Decimal, fees_round_trip: Decimal, min_credit_to_width: float
) -> Decimal:
    """The lowest credit (ETH) that still meets the credit-to-width rule after fees."""
    return Decimal(str(min_credit_to_width)) * width_usd / spot + fees_round_trip


def ladder_bounds(
    touch_credit: Decimal, mid_credit: Decimal, required: Decimal, tick: Decimal
) -> tuple[Decimal, Decimal]:
    """The entry ladder's (floor, top): floor rounded up, top rounded down to the tick."""
    floor = round_up(max(touch_credit, required), tick)
    top = round_down(mid_credit, tick)
    return floor, top


def entry_ladder(floor: Decimal, top: Decimal, steps: int, tick: Decimal) -> tuple[Decimal, ...]:
    """``steps + 1`` prices from top down to floor, each on the tick and never below the floor."""
    if floor > top:
        return ()
    prices = []
    for k in range(steps + 1):
        raw = top - Decimal(k) * (top - floor) / Decimal(steps)
        prices.append(max(round_down(raw, tick), floor))
    return tuple(prices)


def repriced_entry_price(
    proposal: ComboProposal,
    short: OptionQuote,
    long: OptionQuote,
    step: int,
    cfg: StrategyConfig,
) -> Decimal:
    """The entry's price at ladder ``step`` from fresh quotes of its legs (docs/strategy.md 7).

    The ladder is rebuilt from the fresh touch and mid with the fees at the fresh
    mids, but its floor never goes below the proposal's: a reprice chases the
    market down to the credit the trade was chosen on, never past it. When fresh
    quotes leave no room (floor above top) the proposal's own step stands.
    """
    tick = cfg.execution.combo_tick
    steps = cfg.execution.reprice_steps
    fees = round_trip_fee(short.mid, long.mid, cfg.fees)
    need = required_credit(proposal.width_usd, proposal.spot, fees, cfg.strikes.min_credit_to_width)
    floor, top = ladder_bounds(
        (short.bid or Decimal(0)) - (long.ask or Decimal(0)), short.mid - long.mid, need, tick
    )
    floor = max(floor, proposal.ladder_floor)
    if floor > top:
        return proposal.ladder[min(step, steps)]
    return entry_ladder(floor, top, steps, tick)[min(step, steps)]


def proposal_label(proposal_id: str) -> str:
    """The entry order's label, ``bite-<proposal_id>`` (``core.labels``)."""
    return labels.make(proposal_id)


def _leg_greeks(quote: OptionQuote, now: datetime) -> Greeks:
    if quote.greeks is not None:
        return quote.greeks
    t = pricing.year_fraction(now, quote.expiry)
    return pricing.greeks(
        quote.option_type, float(quote.forward), float(quote.strike), t, quote.mark_iv
    )


def breakeven(bias: Bias, short_strike: Decimal, credit_eth: Decimal) -> Decimal:
    """Exact breakeven at expiry for inverse settlement: K/(1+C) for puts, K/(1-C) for calls."""
    if bias == "bull":
        return short_strike / (1 + credit_eth)
    return short_strike / (1 - credit_eth)


def build_proposal(
    short: OptionQuote,
    long: OptionQuote,
    n: int,
    spot: Decimal,
    now: datetime,
    proposal_id: str,
    cfg: StrategyConfig,
    *,
    eur_usd: Decimal,
    combo_tick: Decimal | None = None,
) -> ComboProposal:
    """Assemble the order to send: legs, numbers, label and the limit ladder."""
    if n < 1:
        raise ValueError("a proposal needs at least one contract")
    bias: Bias = "bull" if short.option_type == "put" else "bear"
    tick = combo_tick if combo_tick is not None else cfg.execution.combo_tick
    fees_rt = round_trip_fee(short.mid, long.mid, cfg.fees)
    width = abs(short.strike - long.strike)
    touch = (short.bid or Decimal(0)) - (long.ask or Decimal(0))
    mid_credit = short.mid - long.mid
    need = required_credit(width, spot, fees_rt, cfg.strikes.min_credit_to_width)
    floor, top = ladder_bounds(touch, mid_credit, need, tick)
    ladder = entry_ladder(floor, top, cfg.execution.reprice_steps, tick)
    if not ladder:
        raise ValueError("ladder floor above its top: the pair does not qualify")
    credit = top
    fees_usd = fees_rt * spot
    sizing_loss_pc = width + fees_usd
    short_greeks = _leg_greeks(short, now)
    long_greeks = _leg_greeks(long, now)
    legs_greeks = aggregate_greeks([SignedLeg(-1, n, short_greeks), SignedLeg(1, n, long_greeks)])
    label = proposal_label(proposal_id)
    return ComboProposal(
        proposal_id=proposal_id,
        label=label,
        bias=bias,
        spread_type=SPREAD_FOR_BIAS[bias],
        short=ProposalLeg(
            short.name,
            short.option_type,
            short.strike,
            short.expiry,
            "sell",
            n,
            short.bid or short.mark,
            short_greeks,
        ),
        long=ProposalLeg(
            long.name,
            long.option_type,
            long.strike,
            long.expiry,
            "buy",
            n,
            long.ask or long.mark,
            long_greeks,
        ),
        contracts=n,
        created_at=now,
        expiry=short.expiry,
        dte=short.dte(now),
        spot=spot,
        forward=short.forward,
        eur_usd=eur_usd,
        width_usd=width,
        credit_eth=credit,
        credit_usd=credit * spot,
        credit_eur=credit * spot / eur_usd,
        fees_round_trip_eth=fees_rt,
        max_loss_usd=max_loss_usd(bias, width, credit, long.strike, fees_usd, n),
        sizing_loss_usd=sizing_loss_pc * n,
        breakeven_usd=breakeven(bias, short.strike, credit),
        greeks=legs_greeks,
        ladder=ladder,
        ladder_floor=floor,
        ladder_top=top,
    )
