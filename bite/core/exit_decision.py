"""Exit decision for one open position, and its closing ladder (docs/strategy.md section 10)."""

from __future__ import annotations

from decimal import Decimal

from bite.config.schema import StrategyConfig
from bite.core.strike_selector import quote_delta
from bite.core.ticks import largest_below, round_down, round_up
from bite.core.types import RISK_EXITS, ExitAction, ExitDecision, ExitSnapshot, OptionQuote


def close_debits(short: OptionQuote, long: OptionQuote) -> tuple[Decimal, Decimal, bool]:
    """(mid debit, touch debit, degraded): the cost to close one spread, per contract in ETH."""
    degraded = not (short.has_bid and short.has_ask and long.has_bid and long.has_ask)
    short_ask = short.ask if short.has_ask and short.ask is not None else short.mark
    long_bid = long.bid if long.has_bid and long.bid is not None else long.mark
    return short.mid - long.mid, short_ask - long_bid, degraded


def exit_price_cap(width_usd: Decimal, forward: Decimal, tick: Decimal) -> Decimal:
    """The largest combo tick below W / F: a spread is never worth more than its width."""
    return largest_below(width_usd / forward, tick)


def exit_ladder(
    debit_mid: Decimal,
    debit_touch: Decimal,
    steps: int,
    tick: Decimal,
    *,
    cap: Decimal,
    degraded_cap: Decimal | None = None,
) -> tuple[Decimal, ...]:
    """From mid to touch in ``steps`` steps, rounded up, clamped into [one tick, cap]."""
    ceiling = round_up(debit_touch, tick)
    if degraded_cap is not None:
        ceiling = min(ceiling, round_down(degraded_cap, tick))
    prices = []
    for k in range(steps + 1):
        raw = debit_mid + Decimal(k) * (debit_touch - debit_mid) / Decimal(steps)
        price = min(round_up(raw, tick), ceiling, cap)
        prices.append(max(price, tick))
    return tuple(prices)


def crossing_ladder(
    debit_touch: Decimal, cap: Decimal, k: int, cross_steps: int, steps: int, tick: Decimal
) -> tuple[Decimal, ...]:
    """A risk exit's ``k``-th ladder past the touch (k >= 1), never above ``cap``.

    The way from the touch to the cap (the spread's width: never more than it can
    lose) is cut into ``cross_steps``; ladder k climbs its k-th part in ``steps``.
    """
    span = max(cap - debit_touch, Decimal(0))
    part = Decimal(min(max(k, 1), cross_steps))
    low = debit_touch + span * (part - 1) / cross_steps
    high = debit_touch + span * part / cross_steps
    prices = []
    for j in range(steps + 1):
        raw = low + Decimal(j) * (high - low) / Decimal(steps)
        prices.append(max(min(round_up(raw, tick), cap), tick))
    return tuple(prices)


def evaluate(
    snapshot: ExitSnapshot, cfg: StrategyConfig, *, combo_tick: Decimal | None = None
) -> ExitDecision:
    """Return the first exit rule that fires (stop, breach, vol shock, time, profit) or HOLD."""
    x = cfg.exit
    pos = snapshot.position
    short, long = snapshot.short, snapshot.long
    tick = combo_tick if combo_tick is not None else cfg.execution.combo_tick
    credit = pos.credit_eth
    d_mid, d_touch, degraded = close_debits(short, long)
    dte = (pos.expiry - snapshot.now).total_seconds() / 86400
    short_delta = quote_delta(short, snapshot.now)
    bull = pos.spread_type == "bull_put"

    beyond_strike = snapshot.spot < pos.short_strike if bull else snapshot.spot > pos.short_strike
    dvol_rise = snapshot.dvol - pos.dvol_at_entry
    against = -snapshot.return_4h_pct if bull else snapshot.return_4h_pct
    stop_level = Decimal(str(x.stop_loss_multiple_of_credit)) * credit
    profit_level = (1 - Decimal(str(x.take_profit_pct_of_credit))) * credit

    action: ExitAction = "HOLD"
    if d_mid - credit >= stop_level:
        action = "CLOSE_STOP_LOSS"
    elif beyond_strike or abs(short_delta) >= x.short_delta_breach:
        action = "CLOSE_SHORT_BREACH"
    elif dvol_rise >= x.vol_shock_dvol_rise and against >= x.vol_shock_return_4h_pct:
        action = "CLOSE_VOL_SHOCK"
    elif dte * 24 <= x.time_exit_hours:
        action = "CLOSE_TIME"
    elif d_touch <= profit_level:
        action = "CLOSE_PROFIT"

    cap = exit_price_cap(pos.width_usd, short.forward, tick)
    degraded_cap: Decimal | None = None
    if degraded:
        ticks_allowance = 2 * (short.ticks.tick_at(short.mark) + long.ticks.tick_at(long.mark))
        share = Decimal(str(x.degraded_cap_pct_of_width)) / 100 * pos.width_usd / short.forward
        degraded_cap = short.mark - long.mark + max(ticks_allowance, share)
    ladder = exit_ladder(
        d_mid, d_touch, cfg.execution.reprice_steps, tick, cap=cap, degraded_cap=degraded_cap
    )
    numbers: tuple[tuple[str, float | str | None], ...] = (
        ("spot", str(snapshot.spot)),
        ("short_strike", str(pos.short_strike)),
        ("debit_mid", str(d_mid)),
        ("debit_touch", str(d_touch)),
        ("credit", str(credit)),
        ("stop_level_loss", str(stop_level)),
        ("profit_level_debit", str(profit_level)),
        ("short_delta", short_delta),
        ("dvol", snapshot.dvol),
        ("dvol_at_entry", pos.dvol_at_entry),
        ("return_4h_pct", snapshot.return_4h_pct),
        ("dte", dte),
        ("hours_left", dte * 24),
        ("degraded_cap", None if degraded_cap is None else str(degraded_cap)),
    )
    return ExitDecision(
        action=action,
        is_risk_exit=action in RISK_EXITS,
        degraded_quote=degraded,
        debit_mid=d_mid,
        debit_touch=d_touch,
        credit_eth=credit,
        dte=dte,
        short_delta=short_delta,
        ladder=ladder,
        ladder_cap=cap,
        numbers=numbers,
    )
