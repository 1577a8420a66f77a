"""The paper venue's trading rules, as pure functions (docs/paper-exchange.md 2).

A combo's touch and mid as its side sees them; whether a limit crosses them (a credit
fills at most ``price_improvement`` of the way from the touch to mid, a debit alike);
how the limit splits over the legs (the cheaper leg at its touch, the other at the
rest); the fees (per leg, or only the dearer leg of a combo); the standard margin of
a short leg; the delivery price (Deribit's: the average of the index over the 30
minutes before 08:00 UTC); and what an expired option pays at it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bite.config.schema import FeesConfig
from bite.core.fees import leg_fee
from bite.paper.chain import Listing, PaperQuote


@dataclass(frozen=True)
class LegPrices:
    """A combo's touch and mid, as the order's side sees them (both positive numbers)."""

    touch: Decimal
    mid: Decimal
    top_amount: float


def combo_prices(quotes: list[tuple[PaperQuote, str]], side: str) -> LegPrices | None:
    """Touch and mid of a combo (legs sold at bid, bought at ask): a credit or a debit."""
    sold_bid = Decimal(0)
    bought_ask = Decimal(0)
    mid_signed = Decimal(0)
    amounts: list[float] = []
    for q, direction in quotes:
        mid = ((q.bid or q.mark) + (q.ask or q.mark)) / 2
        if direction == "sell":
            if q.bid is None:
                return None
            sold_bid += q.bid
            mid_signed += mid
            amounts.append(q.bid_amount)
        else:
            if q.ask is None:
                return None
            bought_ask += q.ask
            mid_signed -= mid
            amounts.append(q.ask_amount)
    credit_touch = sold_bid - bought_ask
    if side == "sell":
        return LegPrices(credit_touch, mid_signed, min(amounts))
    return LegPrices(-credit_touch, -mid_signed, min(amounts))


def crosses(limit: Decimal, prices: LegPrices, side: str, improvement: Decimal) -> bool:
    """Whether a combo limit fills against the book (``improvement`` of the touch-mid gap)."""
    if side == "sell":
        return limit <= prices.touch + improvement * (prices.mid - prices.touch)
    return limit >= prices.touch - improvement * (prices.touch - prices.mid)


def split_price(quotes: list[tuple[PaperQuote, str]], side: str, limit: Decimal) -> list[Decimal]:
    """Leg prices whose signed sum is the combo's limit: the cheaper leg at its touch."""
    cheap = min(range(len(quotes)), key=lambda i: quotes[i][0].mark)
    leg_prices: dict[int, Decimal] = {}
    q_cheap, dir_cheap = quotes[cheap]
    leg_prices[cheap] = (q_cheap.bid if dir_cheap == "sell" else q_cheap.ask) or q_cheap.mark
    signed = {"sell": 1, "buy": -1}
    credit_sign = 1 if side == "sell" else -1
    for i, (_, direction) in enumerate(quotes):
        if i == cheap:
            continue
        others = sum(
            signed[d] * leg_prices[j] for j, (_, d) in enumerate(quotes) if j in leg_prices
        )
        # credit_sign * limit = sum(sign * price) over legs
        leg_prices[i] = (credit_sign * limit - others) * signed[direction]
    return [leg_prices[i] for i in range(len(quotes))]


def combo_fees(
    leg_prices: list[Decimal], directions: list[str], qty: int, fees: FeesConfig
) -> list[Decimal]:
    """Each leg's fee for ``qty`` contracts; a combo pays only its dearer leg's when set."""
    out = [leg_fee(price, fees) * qty for price in leg_prices]
    if fees.combo_single_leg_fee and len(set(directions)) > 1:
        dearest = max(range(len(out)), key=lambda i: out[i])
        out = [f if i == dearest else Decimal(0) for i, f in enumerate(out)]
    return out


def short_margin(q: PaperQuote) -> Decimal:
    """Initial margin of one short option (ETH): 15 % less OTM, at least 10 %, plus mark."""
    underlying = Decimal(f"{q.forward:.4f}")
    strike = Decimal(q.listing.strike)
    otm = underlying - strike if q.listing.option_type == "put" else strike - underlying
    base = max(Decimal("0.15") - max(otm, Decimal(0)) / underlying, Decimal("0.1"))
    return base + q.mark


def settlement(
    listing: Listing, delivery: Decimal, size: Decimal, fees: FeesConfig
) -> tuple[Decimal, Decimal]:
    """(payoff per contract in ETH, delivery fee) of an option expiring at ``delivery``."""
    strike = Decimal(listing.strike)
    intrinsic = (
        max(delivery - strike, Decimal(0))
        if listing.option_type == "call"
        else max(strike - delivery, Decimal(0))
    )
    payoff = intrinsic / delivery
    fee = Decimal(0)
    if intrinsic > 0:
        share = fees.delivery_fee_pct / 100
        cap = Decimal(str(fees.option_fee_cap_pct)) / 100 * payoff
        fee = min(share, cap) * abs(size)
    return payoff, fee


DELIVERY_WINDOW = timedelta(minutes=30)
DELIVERY_SAMPLES = 450  # Deribit averages 450 index samples over the last 30 minutes


def delivery_price(index_at: Callable[[datetime], float], expiry: datetime) -> Decimal:
    """The delivery price of an expiry: the mean of the index over the 30 minutes before.

    Deribit's rule (support.deribit.com article 25944687755293): 450 samples, one
    every 4 s, ending at the expiry; rounded to the cent like the index.
    """
    step = DELIVERY_WINDOW / DELIVERY_SAMPLES
    start = expiry - DELIVERY_WINDOW
    total = sum(index_at(start + step * (k + 1)) for k in range(DELIVERY_SAMPLES))
    return Decimal(f"{total / DELIVERY_SAMPLES:.2f}")
