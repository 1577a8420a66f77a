"""The values the rules take and return: frozen, typed, no behaviour beyond arithmetic.

Prices, credits, fees and money are ``Decimal`` (ETH, USD or EUR as the name
says); volatilities are percent floats; deltas and greeks are floats in
Deribit's units (docs/strategy.md 0). Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

OptionType = Literal["call", "put"]
Bias = Literal["bull", "bear"]
Direction = Literal["buy", "sell"]
SpreadType = Literal["bull_put", "bear_call"]

SPREAD_FOR_BIAS: dict[Bias, SpreadType] = {"bull": "bull_put", "bear": "bear_call"}
OPTION_TYPE_FOR_BIAS: dict[Bias, OptionType] = {"bull": "put", "bear": "call"}


@dataclass(frozen=True)
class TickSchedule:
    """An instrument's price grid: ``tick`` below the first step, each step's from its price up."""

    tick: Decimal
    steps: tuple[tuple[Decimal, Decimal], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(sorted(self.steps)))  # ascending, once

    def tick_at(self, price: Decimal) -> Decimal:
        """Return the tick that applies at ``price``."""
        tick = self.tick
        for above_price, step_tick in self.steps:
            if price >= above_price:
                tick = step_tick
        return tick


DERIBIT_ETH_OPTION_TICKS = TickSchedule(
    tick=Decimal("0.0001"), steps=((Decimal("0.005"), Decimal("0.0005")),)
)
"""The ETH option grid seen in 2025-2026 (reference A); live code reads it per instrument."""


@dataclass(frozen=True)
class Greeks:
    """Per-contract greeks in Deribit's units: delta, gamma per USD, vega and theta in USD."""

    delta: float
    gamma: float = 0.0
    vega: float = 0.0
    theta: float = 0.0


@dataclass(frozen=True)
class OptionQuote:
    """One option's market at one instant (ETH prices per contract of 1 ETH)."""

    name: str
    strike: Decimal
    option_type: OptionType
    expiry: datetime
    bid: Decimal | None
    ask: Decimal | None
    mark: Decimal
    mark_iv: float
    forward: Decimal
    open_interest: float
    timestamp: datetime
    bid_amount: float | None = None
    ask_amount: float | None = None
    greeks: Greeks | None = None
    ticks: TickSchedule = DERIBIT_ETH_OPTION_TICKS

    @property
    def has_bid(self) -> bool:
        """Whether the bid side of the book holds a price."""
        return self.bid is not None and self.bid > 0

    @property
    def has_ask(self) -> bool:
        """Whether the ask side of the book holds a price."""
        return self.ask is not None and self.ask > 0

    @property
    def mid(self) -> Decimal:
        """The mid of bid and ask; the mark stands in for an empty side."""
        bid = self.bid if self.has_bid and self.bid is not None else self.mark
        ask = self.ask if self.has_ask and self.ask is not None else self.mark
        return (bid + ask) / 2

    def dte(self, now: datetime) -> float:
        """Days to expiry as a float (docs/strategy.md 0)."""
        return (self.expiry - now).total_seconds() / 86400


@dataclass(frozen=True)
class DailyClose:
    """The close of one completed UTC day."""

    day: date
    close: Decimal


@dataclass(frozen=True)
class MacroEvent:
    """One scheduled macro event."""

    name: str
    time: datetime
    impact: Literal["low", "medium", "high"]
    country: str = ""


@dataclass(frozen=True)
class KellyEstimate:
    """The sizing fraction, edge and drawdown of the current sample (docs/strategy.md 8)."""

    n: int
    wins: int
    losses: int
    p: float | None
    b: float | None
    f_raw: float | None
    f: float
    risk_fraction: float
    mean_r: float | None
    sd_r: float | None
    upper_mean_r_90: float | None
    drawdown_pct: float
    negative_edge: bool
    throttled: bool
    halted: bool
    why: tuple[str, ...]


@dataclass(frozen=True)
class TradeOutcome:
    """A closed trade as the Kelly estimate needs it (EUR, net of fees)."""

    closed_at: datetime
    pnl_eur: Decimal
    sizing_loss_eur: Decimal
    equity_eur_after: Decimal

    @property
    def r(self) -> float:
        """The realized P&L in units of the trade's sizing loss."""
        return float(self.pnl_eur / self.sizing_loss_eur)


@dataclass(frozen=True)
class EntryContext:
    """Everything ``validate_entry`` looks at, gathered from one snapshot.

    A value a service could not give is ``None``; that service is named in
    ``unavailable``. ``timestamps`` maps each source of
    ``anomaly.max_age_minutes`` to the time its value is dated by.
    """

    now: datetime
    kill_switch_armed: bool
    open_positions: int
    spot: Decimal
    dvol: float | None
    dvol_24h_ago: float | None
    daily_closes: tuple[DailyClose, ...]
    return_24h_pct: float | None
    funding_annual_pct: float | None
    macro_events: tuple[MacroEvent, ...] | None
    calendar_horizon: datetime | None
    fear_greed: int | None
    equity_eur: Decimal
    kelly: KellyEstimate
    timestamps: tuple[tuple[str, datetime], ...] = ()
    unavailable: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntryDecision:
    """Accepted iff no reason; ``numbers`` holds what each rule measured."""

    accepted: bool
    reasons: tuple[str, ...]
    numbers: tuple[tuple[str, float | str | None], ...] = ()


@dataclass(frozen=True)
class BiasAssessment:
    """The trend bias and the numbers it was read from (docs/strategy.md 3)."""

    bias: Bias | None
    spot: Decimal
    ema_fast: float | None
    ema_slow: float | None
    return_7d_pct: float | None
    funding_annual_pct: float | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class StrikePair:
    """The chosen short and long legs with the numbers that qualified them."""

    short: OptionQuote
    long: OptionQuote
    width_usd: Decimal
    mid_credit: Decimal
    touch_credit: Decimal
    fees_round_trip: Decimal
    net_credit: Decimal
    credit_to_width: float
    ladder_floor: Decimal
    ladder_top: Decimal
    short_delta: float
    dte: float

    def __iter__(self):  # type: ignore[no-untyped-def]
        """Unpack as ``short, long``."""
        return iter((self.short, self.long))


@dataclass(frozen=True)
class MacroHold:
    """What the macro hold policy says for a chosen expiry (docs/strategy.md 2)."""

    action: Literal["none", "halve", "block"]
    events: tuple[MacroEvent, ...]
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class SizingContext:
    """What sizing needs: equity, the spread, the books and the margin picture."""

    equity_eur: Decimal
    equity_eth: Decimal
    eur_usd: Decimal
    risk_fraction: float
    halve_for_macro: bool
    width_usd: Decimal
    fees_round_trip_eth: Decimal
    spot: Decimal
    short: OptionQuote
    long: OptionQuote
    account_initial_margin_eth: Decimal
    order_margin_eth_per_contract: Decimal | None = None


@dataclass(frozen=True)
class SizingResult:
    """The number of contracts and every intermediate number (docs/strategy.md 5)."""

    contracts: int
    reason: str | None
    binding_cap: str
    budget_eur: Decimal
    sizing_loss_eur: Decimal
    n_budget: int
    n_max_contracts: int
    n_depth: int | None
    n_margin: int | None
    margin_per_contract_eth: Decimal
    margin_source: Literal["broker", "standard_formula"]


@dataclass(frozen=True)
class GateResult:
    """The liquidity gate's verdict (docs/strategy.md 6)."""

    passed: bool
    reasons: tuple[str, ...]
    numbers: tuple[tuple[str, float | str | None], ...] = ()


@dataclass(frozen=True)
class ProposalLeg:
    """One leg of an order: the trade to execute on it."""

    instrument_name: str
    option_type: OptionType
    strike: Decimal
    expiry: datetime
    direction: Direction
    amount: int
    price: Decimal
    greeks: Greeks


@dataclass(frozen=True)
class PositionGreeks:
    """Net greeks of a position or a book (docs/strategy.md 9)."""

    delta: float = 0.0
    gamma: float = 0.0
    vega: float = 0.0
    theta: float = 0.0


@dataclass(frozen=True)
class ComboProposal:
    """A credit spread ready to send (docs/strategy.md 7)."""

    proposal_id: str
    label: str
    bias: Bias
    spread_type: SpreadType
    short: ProposalLeg
    long: ProposalLeg
    contracts: int
    created_at: datetime
    expiry: datetime
    dte: float
    spot: Decimal
    forward: Decimal
    eur_usd: Decimal
    width_usd: Decimal
    credit_eth: Decimal
    credit_usd: Decimal
    credit_eur: Decimal
    fees_round_trip_eth: Decimal
    max_loss_usd: Decimal
    sizing_loss_usd: Decimal
    breakeven_usd: Decimal
    greeks: PositionGreeks
    ladder: tuple[Decimal, ...]
    ladder_floor: Decimal
    ladder_top: Decimal


@dataclass(frozen=True)
class PositionView:
    """An open position as the exit rules see it."""

    position_id: str
    spread_type: SpreadType
    short_name: str
    long_name: str
    short_strike: Decimal
    long_strike: Decimal
    expiry: datetime
    contracts: int
    credit_eth: Decimal
    dvol_at_entry: float

    @property
    def option_type(self) -> OptionType:
        """The legs' option type."""
        return "put" if self.spread_type == "bull_put" else "call"

    @property
    def width_usd(self) -> Decimal:
        """The distance between the strikes (USD)."""
        return abs(self.short_strike - self.long_strike)


@dataclass(frozen=True)
class ExitSnapshot:
    """What ``evaluate`` looks at for one position at one instant."""

    position: PositionView
    short: OptionQuote
    long: OptionQuote
    spot: Decimal
    now: datetime
    dvol: float
    return_4h_pct: float


ExitAction = Literal[
    "CLOSE_STOP_LOSS", "CLOSE_SHORT_BREACH", "CLOSE_VOL_SHOCK", "CLOSE_TIME", "CLOSE_PROFIT", "HOLD"
]
RISK_EXITS: frozenset[str] = frozenset({"CLOSE_STOP_LOSS", "CLOSE_SHORT_BREACH", "CLOSE_VOL_SHOCK"})


@dataclass(frozen=True)
class ExitDecision:
    """The exit rule that fired (or HOLD), its inputs and the closing ladder."""

    action: ExitAction
    is_risk_exit: bool
    degraded_quote: bool
    debit_mid: Decimal
    debit_touch: Decimal
    credit_eth: Decimal
    dte: float
    short_delta: float
    ladder: tuple[Decimal, ...]
    ladder_cap: Decimal
    numbers: tuple[tuple[str, float | str | None], ...] = field(default=())
