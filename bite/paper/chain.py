"""A Deribit-like ETH option chain at any instant (docs/paper-exchange.md 1).

Listings: the next dailies, Friday weeklies, last-Friday monthlies and
quarterlies, all at 08:00 UTC. Strikes on a grid that widens with tenor and
distance. Marks are Black-76 on the expiry's forward, on a volatility surface
fitted to a real Deribit chain (``ChainModelConfig``: a term structure over DVOL
and a smile rising on both wings, the puts faster); bid and ask sit around the
mark on the instrument's tick, a few ticks or a share of the mark apart. Amounts
and open interest are deterministic in (seed, instrument, hour). Greeks are in
Deribit's units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import cached_property, lru_cache
from typing import Any

from bite.config.schema import ChainModelConfig
from bite.core import pricing
from bite.core.ticks import round_up, round_up_on
from bite.core.types import DERIBIT_ETH_OPTION_TICKS, Greeks, OptionType
from bite.paper.market import MarketState, unit, units_once

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
TICK_STEPS = [{"above_price": 0.005, "tick_size": 0.0005}]
OPTION_TYPES: tuple[OptionType, ...] = ("call", "put")
DEFAULT_MODEL = ChainModelConfig()


@dataclass(frozen=True)
class Listing:
    """One option instrument."""

    name: str
    strike: int
    option_type: OptionType
    expiry: datetime
    settlement_period: str

    @cached_property
    def expiry_ms(self) -> float:
        """The expiry in milliseconds since the epoch (a listing's windows compare it)."""
        return self.expiry.timestamp() * 1000


@dataclass(frozen=True)
class PaperQuote:
    """A modelled quote of one instrument at one instant."""

    listing: Listing
    forward: float
    mark_iv: float
    mark: Decimal
    bid: Decimal | None
    ask: Decimal | None
    open_interest: float
    t: float  # years to expiry
    seed: int
    hour: int  # the hour (since the epoch) its book amounts are drawn for

    @cached_property
    def _amounts(self) -> tuple[float, float]:
        bid, ask = units_once(self.seed, (self.listing.name, self.hour), ("bid", "ask"))
        return float(int(5 + 145 * bid)), float(int(5 + 145 * ask))

    @property
    def bid_amount(self) -> float:
        """Contracts on the bid (drawn when asked: a book summary shows none)."""
        return self._amounts[0]

    @property
    def ask_amount(self) -> float:
        """Contracts on the ask."""
        return self._amounts[1]

    @property
    def greeks(self) -> Greeks:
        """Deribit's greeks at the mark IV (computed when asked: a book summary has none)."""
        return pricing.greeks(
            self.listing.option_type, self.forward, self.listing.strike, self.t, self.mark_iv
        )


@lru_cache(maxsize=256)  # every strike of an expiry is named with it
def expiry_code(expiry: datetime) -> str:
    """``5DEC25`` for 2025-12-05 (Deribit's day has no leading zero)."""
    return f"{expiry.day}{MONTHS[expiry.month - 1]}{expiry.year % 100:02d}"


def _at_eight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


def _last_friday(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 4) % 7)


def expiries(now: datetime) -> list[tuple[datetime, str]]:
    """Listed expiries after ``now``: 3 dailies, 3 weeklies, 3 monthlies, 4 quarterlies."""
    found: dict[datetime, str] = {}
    first_day = now.date() if now < _at_eight(now.date()) else now.date() + timedelta(days=1)
    for k in range(3):
        found.setdefault(_at_eight(first_day + timedelta(days=k)), "day")
    friday = first_day + timedelta(days=(4 - first_day.weekday()) % 7)
    for k in range(3):
        found[_at_eight(friday + timedelta(days=7 * k))] = "week"
    year, month = now.year, now.month
    monthly: list[datetime] = []
    quarterly: list[datetime] = []
    for k in range(15):
        y, m = year + (month - 1 + k) // 12, (month - 1 + k) % 12 + 1
        when = _at_eight(_last_friday(y, m))
        if when <= now:
            continue
        if len(monthly) < 3:
            monthly.append(when)
        if m in (3, 6, 9, 12) and len(quarterly) < 4:
            quarterly.append(when)
    for when in monthly + quarterly:
        found[when] = "month"
    return sorted((x, kind) for x, kind in found.items() if x > now)


def strike_step(days: float) -> int:
    """The strike spacing for a tenor (USD)."""
    if days <= 3:
        return 25
    if days <= 35:
        return 50
    if days <= 100:
        return 100
    return 200


def strikes(forward: float, days: float, iv_pct: float) -> list[int]:
    """Strikes covering about 3.5 sd of log-moneyness (at least +/-12 %), on the tenor's grid."""
    step = strike_step(days)
    sd = iv_pct / 100 * math.sqrt(max(days, 0.5) / 365)
    reach = max(3.5 * sd, 0.12)
    low = math.floor(forward * math.exp(-reach) / step) * step
    high = math.ceil(forward * math.exp(reach) / step) * step
    grid = list(range(max(step, low), high + step, step))
    # thin the far wings: keep every other strike beyond 1.5 sd (an even strike is kept
    # wherever it is, so only the odd ones need their moneyness)
    near = 1.5 * sd
    return [k for k in grid if (k // step) % 2 == 0 or abs(math.log(k / forward)) <= near]


LISTED_DAYS_BEFORE = {"day": 3, "week": 21, "month": 92}


@lru_cache(maxsize=256)  # an expiry's listing is the same at every hour it is asked
def _listing_strikes(forward: float, days: float, iv_pct: float) -> frozenset[int]:
    return frozenset(strikes(forward, days, iv_pct))


def listing_grids(
    state: MarketState,
    listed: Callable[[datetime], MarketState] | None = None,
    known: dict[datetime, set[int]] | None = None,
) -> list[tuple[datetime, str, frozenset[int]]]:
    """Each expiry listed at the state's time, with its kind and its strikes.

    A strike listed when its expiry was introduced stays listed until expiry (the
    venue never delists); strikes around today's forward are added as spot moves.
    ``listed`` gives the market at an earlier time (the expiry's listing).
    """
    out: list[tuple[datetime, str, frozenset[int]]] = []
    for expiry, kind in expiries(state.time):
        days = (expiry - state.time).total_seconds() / 86400
        forward = state.forward(expiry)
        grid = set(strikes(forward, days, state.dvol))
        if listed is not None:
            since = expiry - timedelta(days=LISTED_DAYS_BEFORE.get(kind, 92))
            if since < state.time:
                then = listed(since)
                grid |= _listing_strikes(
                    then.forward(expiry), (expiry - since).total_seconds() / 86400, then.dvol
                )
        if known is not None:
            grid |= known.get(expiry, set())
        out.append((expiry, kind, frozenset(grid)))
    return out


@lru_cache(maxsize=64)  # most expiries keep their strikes from one hour to the next
def expiry_listings(
    expiry: datetime, kind: str, grid: frozenset[int]
) -> tuple[tuple[str, Listing], ...]:
    """(name, instrument) of an expiry's strikes, puts and calls, strikes ascending; each
    strike's pair is made once per expiry (an expiry's strikes grow a few at a time)."""
    pairs = _strike_pairs(expiry, kind)
    for strike in grid - pairs.keys():
        pairs[strike] = tuple(
            (x.name, x) for x in (_listing(expiry, kind, strike, t) for t in OPTION_TYPES)
        )
    return tuple(pair for strike in sorted(grid) for pair in pairs[strike])


@lru_cache(maxsize=64)
def _strike_pairs(expiry: datetime, kind: str) -> dict[int, tuple[tuple[str, Listing], ...]]:
    """The instruments made so far for an expiry, by strike (kept for the live expiries)."""
    return {}


def listings(
    state: MarketState,
    listed: Callable[[datetime], MarketState] | None = None,
    known: dict[datetime, set[int]] | None = None,
) -> list[Listing]:
    """Every option listed at the state's time (``listing_grids``), expiry by expiry."""
    return [
        x
        for expiry, kind, grid in listing_grids(state, listed, known)
        for _, x in expiry_listings(expiry, kind, grid)
    ]


def _listing(expiry: datetime, kind: str, strike: int, option_type: OptionType) -> Listing:
    """One instrument (made once while its expiry is live: ``_strike_pairs`` keeps it)."""
    letter = "C" if option_type == "call" else "P"
    return Listing(
        f"ETH-{expiry_code(expiry)}-{strike}-{letter}", strike, option_type, expiry, kind
    )


def atm_iv(dvol: float, days: float, model: ChainModelConfig) -> float:
    """The at-the-money IV of a tenor (%): DVOL (a 30-day index) on the fitted term structure."""
    term = model.term_long + model.term_premium * math.exp(-days / model.term_decay_days)
    near = 1 - model.near_discount * math.exp(-days / model.near_decay_days)
    return dvol * term * near * model.iv_scale


def smile_iv(
    state: MarketState, forward: float, strike: float, days: float, model: ChainModelConfig
) -> float:
    """Mark IV (%): the tenor's ATM level times 1 + skew z + curvature z^2 over standardized
    moneyness z = ln(K / F) / (ATM sqrt(T)). Both wings rise away from the money, the puts
    faster (the fitted skew is negative). The stress term steepens the skew as DVOL rises."""
    atm = atm_iv(state.dvol, days, model)
    sd = atm / 100 * math.sqrt(max(days, 0.25) / 365)
    z = math.log(strike / forward) / sd
    skew = model.skew - model.stress_skew_per_dvol_point * max(state.dvol_change_24h, 0.0)
    return max(atm * (1 + skew * z + model.curvature * z * z), 10.5)


@dataclass(frozen=True)
class _Instant:
    """What every quote of one instant shares: the skew, the spread's terms, the hour."""

    skew: float
    ticks_below: Decimal
    ticks_above: Decimal
    rel: Decimal
    scale: Decimal
    hour: int


def _instant(state: MarketState, model: ChainModelConfig) -> _Instant:
    stress = (
        1.0
        + model.stress_spread_per_dvol_point * max(state.dvol_change_24h, 0.0)
        + model.stress_spread_per_move_pct * state.move_24h_pct
    )
    return _Instant(
        skew=model.skew - model.stress_skew_per_dvol_point * max(state.dvol_change_24h, 0.0),
        ticks_below=model.spread_ticks_below * Decimal("0.0001"),
        ticks_above=model.spread_ticks_above * Decimal("0.0005"),
        rel=Decimal(str(model.spread_rel)),
        scale=Decimal(f"{model.spread_scale * stress:.6f}"),
        hour=int(state.time.timestamp() // 3600),
    )


@dataclass(frozen=True)
class _Tenor:
    """What every quote of one expiry at one instant shares."""

    days: float
    forward: float
    atm: float
    sd: float
    t: float


def _tenor(state: MarketState, expiry: datetime, model: ChainModelConfig) -> _Tenor:
    days = (expiry - state.time).total_seconds() / 86400
    atm = atm_iv(state.dvol, days, model)
    return _Tenor(
        days=days,
        forward=round(state.forward(expiry), 4),
        atm=atm,
        sd=atm / 100 * math.sqrt(max(days, 0.25) / 365),
        t=pricing.year_fraction(state.time, expiry),
    )


def _spread(mark: Decimal, instant: _Instant) -> Decimal:
    """A quote's bid-ask spread (ETH): the larger of a few ticks and a share of the mark,
    widened by the scale and the stress terms (DVOL rising, a large day's move)."""
    ticks = instant.ticks_below if mark < Decimal("0.005") else instant.ticks_above
    return max(ticks, mark * instant.rel) * instant.scale


def bid_ask(mark: Decimal, spread: Decimal) -> tuple[Decimal, Decimal]:
    """Bid and ask on the tick of the mark's step, ``spread`` apart (at least one tick) and
    around the mark: the bid is the tick nearest to mark - spread / 2.

    A mark of at most six decimals (every modelled mark) is worked in whole millionths
    of an ETH, which gives the same Decimals as the general rule (``_bid_ask_decimal``)
    in a fraction of its time: a chain prices hundreds of quotes at each instant."""
    sign, _, exponent = mark.as_tuple()
    if sign or not isinstance(exponent, int) or exponent < -6:
        return _bid_ask_decimal(mark, spread)
    micro = int(mark.scaleb(6))
    small = micro < _STEP_MICRO
    tick, tick_micro = (_SMALL_TICK, _SMALL_MICRO) if small else (_LARGE_TICK, _LARGE_MICRO)
    width = max(int((spread / tick).to_integral_value(ROUND_CEILING)), 1)  # in ticks
    # the tick nearest to (mark - width / 2), halves up: floor((2 mark - width + 1) / 2)
    bid = (2 * micro - width * tick_micro + tick_micro) // (2 * tick_micro)
    if bid <= 0:
        return Decimal(0), _up_on_grid(micro + width * tick_micro // 2)
    return Decimal(bid) * tick, _up_on_grid((bid + width) * tick_micro)


_STEP_MICRO = 5000  # the grid's step: 0.005 ETH
_SMALL_TICK, _SMALL_MICRO = Decimal("0.0001"), 100
_LARGE_TICK, _LARGE_MICRO = Decimal("0.0005"), 500


def _up_on_grid(micro: int) -> Decimal:
    """``round_up_on`` the option grid, of a price in whole millionths of an ETH."""
    tick = _SMALL_MICRO if micro < _STEP_MICRO else _LARGE_MICRO
    rounded = -(-micro // tick) * tick
    if rounded >= _STEP_MICRO:  # a result that crosses the step lands on its grid
        return Decimal(-(-rounded // _LARGE_MICRO)) * _LARGE_TICK
    return Decimal(rounded // _SMALL_MICRO) * _SMALL_TICK


def _bid_ask_decimal(mark: Decimal, spread: Decimal) -> tuple[Decimal, Decimal]:
    """``bid_ask`` by the general rule, for any mark."""
    tick = DERIBIT_ETH_OPTION_TICKS.tick_at(mark)
    width = max(round_up(spread, tick), tick)
    bid = (((mark - width / 2) / tick).to_integral_value(ROUND_HALF_UP)) * tick
    if bid <= 0:
        return Decimal(0), round_up_on(mark + width / 2, DERIBIT_ETH_OPTION_TICKS)
    return bid, round_up_on(bid + width, DERIBIT_ETH_OPTION_TICKS)


def quote(
    state: MarketState, listing: Listing, seed: int, model: ChainModelConfig = DEFAULT_MODEL
) -> PaperQuote:
    """The modelled quote of one listing."""
    return _quote(
        listing, seed, _tenor(state, listing.expiry, model), _instant(state, model), model
    )


def _quote(
    listing: Listing, seed: int, tenor: _Tenor, instant: _Instant, model: ChainModelConfig
) -> PaperQuote:
    """``quote`` with what the instant and the expiry share already worked out (a chain
    quotes hundreds of listings at one instant): the same numbers, computed once."""
    forward, t = tenor.forward, tenor.t
    z = math.log(listing.strike / forward) / tenor.sd  # smile_iv, on the shared terms
    smile = max(tenor.atm * (1 + instant.skew * z + model.curvature * z * z), 10.5)
    iv = round(smile, 2)  # published, then priced
    value = pricing.price_eth(listing.option_type, forward, listing.strike, t, iv)
    mark = Decimal(f"{value:.6f}")
    bid, ask = bid_ask(mark, _spread(mark, instant))
    distance = abs(math.log(listing.strike / forward)) / max(iv / 100 * math.sqrt(t), 1e-6)
    oi = float(
        int((4000 * math.exp(-distance / 1.5) + 30) * (0.6 + 0.8 * unit(seed, listing.name)))
    )
    return PaperQuote(
        listing=listing,
        forward=forward,
        mark_iv=round(iv, 2),
        mark=mark,
        bid=bid if bid > 0 else None,
        ask=ask,
        open_interest=oi,
        t=t,
        seed=seed,
        hour=instant.hour,
    )


class Chain:
    """The chain at one instant, quoted lazily and cached by name."""

    def __init__(
        self,
        state: MarketState,
        seed: int,
        listed: Callable[[datetime], MarketState] | None = None,
        known: dict[datetime, set[int]] | None = None,
        model: ChainModelConfig = DEFAULT_MODEL,
        listed_set: dict[str, Listing] | None = None,
    ) -> None:
        self.state = state
        self.seed = seed
        self.model = model
        self.listings = (
            listed_set
            if listed_set is not None
            else {x.name: x for x in listings(state, listed, known)}
        )
        self._quotes: dict[str, PaperQuote] = {}
        self._tenors: dict[datetime, _Tenor] = {}
        self._instant = _instant(state, model)

    def quote(self, name: str) -> PaperQuote | None:
        """The quote of one instrument, or None when not listed."""
        listing = self.listings.get(name)
        if listing is None:
            return None
        cached = self._quotes.get(name)
        if cached is None:
            tenor = self._tenors.get(listing.expiry)
            if tenor is None:
                tenor = self._tenors[listing.expiry] = _tenor(
                    self.state, listing.expiry, self.model
                )
            cached = _quote(listing, self.seed, tenor, self._instant, self.model)
            self._quotes[name] = cached
        return cached

    def all_quotes(self) -> list[PaperQuote]:
        """Every quote (the whole book summary)."""
        return [q for name in self.listings if (q := self.quote(name)) is not None]


@lru_cache(maxsize=256)  # the account's positions are read at every touch
def listing_from_name(name: str) -> Listing | None:
    """Parse ``ETH-5DEC25-2400-P`` (for positions whose instrument has expired)."""
    try:
        _, code, strike, letter = name.split("-")
        day = int(code[:-5])
        month = MONTHS.index(code[-5:-2]) + 1
        year = 2000 + int(code[-2:])
    except (ValueError, IndexError):
        return None
    option_type: OptionType = "call" if letter == "C" else "put"
    return Listing(
        name, int(strike), option_type, datetime(year, month, day, 8, tzinfo=UTC), "unknown"
    )


# -- Deribit's JSON shapes of a quote ----------------------------------------------------


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def summary_json(q: PaperQuote, index: float, stamp: int) -> dict[str, Any]:
    """The quote as a row of Deribit's ``get_book_summary_by_currency``."""
    return {
        "instrument_name": q.listing.name,
        "bid_price": _num(q.bid),
        "ask_price": _num(q.ask),
        "mark_price": float(q.mark),
        "mark_iv": q.mark_iv,
        "underlying_price": round(q.forward, 4),
        "underlying_index": f"ETH-{q.listing.name.split('-')[1]}",
        "open_interest": q.open_interest,
        "creation_timestamp": stamp,
        "estimated_delivery_price": index,
        "interest_rate": 0.0,
        "base_currency": "ETH",
        "quote_currency": "ETH",
    }


def ticker_json(q: PaperQuote, index: float, stamp: int) -> dict[str, Any]:
    """The quote as Deribit's ``public/ticker`` result."""
    g = q.greeks
    return {
        "instrument_name": q.listing.name,
        "timestamp": stamp,
        "state": "open",
        "best_bid_price": _num(q.bid) or 0.0,
        "best_bid_amount": q.bid_amount if q.bid is not None else 0.0,
        "best_ask_price": _num(q.ask) or 0.0,
        "best_ask_amount": q.ask_amount if q.ask is not None else 0.0,
        "mark_price": float(q.mark),
        "mark_iv": q.mark_iv,
        "underlying_price": round(q.forward, 4),
        "index_price": index,
        "estimated_delivery_price": index,
        "open_interest": q.open_interest,
        "interest_rate": 0.0,
        "greeks": {
            "delta": round(g.delta, 5),
            "gamma": round(g.gamma, 7),
            "vega": round(g.vega, 5),
            "theta": round(g.theta, 5),
            "rho": 0.0,
        },
    }
