"""The schema of ``strategy.yaml`` (docs/strategy.md section 12).

Every model is frozen and refuses unknown keys, so a typo fails loudly with the
field's dotted path. Every default is the spec's; nothing in ``bite.core`` is
hard-coded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Environment = Literal["paper", "testnet", "mainnet"]
Impact = Literal["low", "medium", "high"]
Transport = Literal["mcp", "direct"]

IMPACT_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}

Pct = Annotated[float, Field(ge=0, le=100)]
PositiveFloat = Annotated[float, Field(gt=0)]
RISK_EXIT_BUDGET_MAX_MINUTES = 15.0
NonNegFloat = Annotated[float, Field(ge=0)]


class CrossFieldError(ValueError):
    """A rule between fields; ``field`` names the one the loader reports."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _takes_bool(annotation: Any) -> bool:
    """Whether a field's type admits ``true``/``false`` (``Any`` does)."""
    if annotation is bool or annotation is Any:
        return True
    return any(_takes_bool(arg) for arg in get_args(annotation))


class Section(BaseModel):
    """Base of every config section: frozen, unknown keys refused, numbers finite.

    YAML reads ``true`` as a bool and pydantic would take it as the number 1: a
    number field given ``true``/``false`` is refused, naming the field.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            field = cls.model_fields.get(name) if isinstance(name, str) else None
            if field is None or _takes_bool(field.annotation):
                continue
            items = value if isinstance(value, list | tuple) else [value]
            if any(isinstance(item, bool) for item in items):
                raise CrossFieldError(name, "must be a value of its type, not true/false")
        return data


class ExecutionConfig(Section):
    """How orders are worked (docs/strategy.md 12, docs/operations.md 4)."""

    environment: Environment = "paper"
    allow_mainnet: bool = False
    allow_wide_key_scope: bool = False
    fill_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 90
    reprice_every_s: Annotated[float, Field(gt=0, le=600)] = 20
    reprice_steps: Annotated[int, Field(ge=1, le=20)] = 3
    combo_tick: Annotated[Decimal, Field(gt=0, le=Decimal("0.01"))] = Decimal("0.0001")
    retry_waits_s: tuple[NonNegFloat, ...] = (1, 5, 30)
    risk_exit_retry_minutes: Annotated[float, Field(ge=0)] = 5
    risk_exit_cross_steps: Annotated[int, Field(ge=1, le=20)] = 4

    @field_validator("risk_exit_retry_minutes")
    @classmethod
    def _budget_under_the_dead_man(cls, value: float) -> float:
        # the job holds the lock meanwhile: health-run (every 5 min) must still write the
        # heartbeat before the dead man's 20 minutes run out
        if value > RISK_EXIT_BUDGET_MAX_MINUTES:
            raise ValueError(
                f"at most {RISK_EXIT_BUDGET_MAX_MINUTES:g} minutes: the dead man's age (20) "
                "less one health period (5), since the job holds the lock meanwhile"
            )
        return value

    @model_validator(mode="after")
    def _reprice_fits_timeout(self) -> ExecutionConfig:
        if self.reprice_every_s > self.fill_timeout_s:
            raise CrossFieldError("reprice_every_s", "must not exceed fill_timeout_s")
        return self


class ScheduleConfig(Section):
    """When the hourly monitor decides, and the longest gap before a job counts as missed."""

    entry_max_gap_hours: PositiveFloat = 170
    monitor_max_gap_hours: PositiveFloat = 2
    backup_max_gap_hours: PositiveFloat = 2
    monitor_decision_hours_utc: tuple[Annotated[int, Field(ge=0, le=23)], ...] = (6, 18)
    monitor_wake_move_pct: Annotated[float, Field(gt=0, le=50)] = 3.0
    monitor_wake_strike_distance_pct: Annotated[float, Field(ge=0, le=50)] = 5.0

    @field_validator("monitor_decision_hours_utc")
    @classmethod
    def _some_hours(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one hour of the day")
        if 7 in value or 8 in value:
            raise ValueError("07:00-08:59 UTC holds Deribit's settlement (07:30-08:15)")
        return tuple(sorted(set(value)))


class EntryConfig(Section):
    """Entry validation thresholds (docs/strategy.md 2)."""

    max_concurrent_positions: Annotated[int, Field(ge=1, le=4)] = 1
    dvol_min: Annotated[float, Field(ge=0, le=400)] = 40
    dvol_max: Annotated[float, Field(ge=0, le=400)] = 110
    dvol_max_rise_24h: PositiveFloat = 10
    min_vol_premium: float = 5
    max_abs_return_24h_pct: PositiveFloat = 8
    funding_max_abs_annual_pct: PositiveFloat = 100
    macro_min_impact: Impact = "high"
    macro_blackout_hours: NonNegFloat = 48
    macro_hold_policy: Literal["halve", "block", "ignore"] = "halve"
    calendar_min_horizon_days: NonNegFloat = 30
    fear_greed_min: Annotated[int, Field(ge=0, le=100)] = 10
    fear_greed_max: Annotated[int, Field(ge=0, le=100)] = 90
    min_equity_eur: Annotated[Decimal, Field(ge=0)] = Decimal("10000")

    @model_validator(mode="after")
    def _ranges_ordered(self) -> EntryConfig:
        if self.dvol_min >= self.dvol_max:
            raise CrossFieldError("dvol_min", "must be below dvol_max")
        if self.fear_greed_min >= self.fear_greed_max:
            raise CrossFieldError("fear_greed_min", "must be below fear_greed_max")
        return self


class BiasConfig(Section):
    """Trend bias (docs/strategy.md 3)."""

    history_days: Annotated[int, Field(ge=2, le=1000)] = 120
    ema_fast_days: Annotated[int, Field(ge=2, le=500)] = 20
    ema_slow_days: Annotated[int, Field(ge=2, le=500)] = 50
    max_counter_return_7d_pct: PositiveFloat = 5
    funding_overheated_annual_pct: PositiveFloat = 60

    @model_validator(mode="after")
    def _windows_fit(self) -> BiasConfig:
        if self.ema_fast_days >= self.ema_slow_days:
            raise CrossFieldError("ema_fast_days", "must be below ema_slow_days")
        if self.history_days < self.ema_slow_days + 10:
            raise CrossFieldError("history_days", "must be at least ema_slow_days + 10")
        return self


class StrikesConfig(Section):
    """Strike selection (docs/strategy.md 4)."""

    dte_min: PositiveFloat = 10
    dte_max: PositiveFloat = 21
    dte_target: PositiveFloat = 11
    short_delta_min: Annotated[float, Field(gt=0, lt=0.5)] = 0.12
    short_delta_max: Annotated[float, Field(gt=0, lt=0.5)] = 0.25
    short_delta_target: Annotated[float, Field(gt=0, lt=0.5)] = 0.20
    width_pct_of_spot: Annotated[float, Field(gt=0, le=50)] = 8
    width_min_pct: Annotated[float, Field(gt=0, le=50)] = 3
    width_max_pct: Annotated[float, Field(gt=0, le=50)] = 10
    min_credit_to_width: Annotated[float, Field(gt=0, lt=1)] = 0.10

    @model_validator(mode="after")
    def _targets_inside_ranges(self) -> StrikesConfig:
        if not self.dte_min <= self.dte_target <= self.dte_max:
            raise CrossFieldError("dte_min", "need dte_min <= dte_target <= dte_max")
        if not self.short_delta_min <= self.short_delta_target <= self.short_delta_max:
            raise CrossFieldError(
                "short_delta_min",
                "need short_delta_min <= short_delta_target <= short_delta_max",
            )
        if not self.width_min_pct <= self.width_pct_of_spot <= self.width_max_pct:
            raise CrossFieldError(
                "width_min_pct", "need width_min_pct <= width_pct_of_spot <= width_max_pct"
            )
        return self


class LiquidityConfig(Section):
    """Liquidity gate (docs/strategy.md 6) and the depth cap of sizing (section 5)."""

    max_leg_spread_pct: Annotated[float, Field(gt=0, le=2)] = 0.25
    min_open_interest: NonNegFloat = 50
    min_net_credit_usd: Annotated[Decimal, Field(ge=0)] = Decimal("5")
    min_depth_multiple: Annotated[float, Field(ge=1)] = 1.0


class SizingConfig(Section):
    """Sizing caps (docs/strategy.md 5) and the drawdown brakes (section 8)."""

    max_contracts: Annotated[int, Field(ge=1, le=10000)] = 50
    max_loss_per_trade_eur: Annotated[Decimal, Field(gt=0)] = Decimal("2000")
    max_initial_margin_fraction: Annotated[float, Field(gt=0, le=1)] = 0.25
    max_abs_net_delta_eth: Annotated[float, Field(gt=0)] | None = None
    drawdown_throttle_pct: Annotated[float, Field(gt=0, le=100)] = 10
    drawdown_halt_pct: Annotated[float, Field(gt=0, le=100)] = 20

    @model_validator(mode="after")
    def _throttle_before_halt(self) -> SizingConfig:
        if self.drawdown_throttle_pct > self.drawdown_halt_pct:
            raise CrossFieldError("drawdown_throttle_pct", "must not exceed drawdown_halt_pct")
        return self


class KellyConfig(Section):
    """Fractional Kelly with a prior (docs/strategy.md 8)."""

    lookback_trades: Annotated[int, Field(ge=1, le=10000)] = 100
    min_trades: Annotated[int, Field(ge=2)] = 40
    prior_trades: Annotated[int, Field(ge=0)] = 40
    prior_fraction: Annotated[float, Field(ge=-1, le=1)] = 0.08
    multiplier: Annotated[float, Field(gt=0, le=1)] = 0.25
    risk_fraction_min: Annotated[float, Field(gt=0, le=1)] = 0.005
    risk_fraction_max: Annotated[float, Field(gt=0, le=1)] = 0.03
    block_on_negative_edge: bool = True

    @model_validator(mode="after")
    def _clamp_ordered(self) -> KellyConfig:
        if self.risk_fraction_min > self.risk_fraction_max:
            raise CrossFieldError("risk_fraction_min", "must not exceed risk_fraction_max")
        return self


class ExitConfig(Section):
    """Exit rules (docs/strategy.md 10)."""

    stop_loss_multiple_of_credit: PositiveFloat = 2.0
    short_delta_breach: Annotated[float, Field(gt=0, lt=1)] = 0.30
    vol_shock_dvol_rise: PositiveFloat = 15
    vol_shock_return_4h_pct: PositiveFloat = 3
    time_exit_hours: NonNegFloat = 100
    take_profit_pct_of_credit: Annotated[float, Field(gt=0, lt=1)] = 0.75
    degraded_cap_pct_of_width: Annotated[float, Field(gt=0, le=100)] = 10


class FeesConfig(Section):
    """Deribit option fees (docs/strategy.md 0)."""

    option_fee_eth: Annotated[Decimal, Field(ge=0, le=Decimal("0.01"))] = Decimal("0.0003")
    option_fee_cap_pct: Pct = 12.5
    delivery_fee_pct: Annotated[Decimal, Field(ge=0, le=1)] = Decimal("0.015")
    combo_single_leg_fee: bool = True


class MaxAgeMinutes(Section):
    """The oldest each input may be before the entry refuses it (docs/strategy.md 2)."""

    index: PositiveFloat = 5
    quotes: PositiveFloat = 5
    dvol: PositiveFloat = 15
    candles_hourly: PositiveFloat = 90
    funding: PositiveFloat = 90
    fear_greed: PositiveFloat = 2160
    eur_usd: PositiveFloat = 10080


class AnomalyConfig(Section):
    """Market-data anomaly bounds (docs/strategy.md 11)."""

    iv_min: NonNegFloat = 10
    iv_max: PositiveFloat = 400
    dvol_min: NonNegFloat = 10
    dvol_max: PositiveFloat = 400
    max_spot_jump_pct: PositiveFloat = 25
    max_age_minutes: MaxAgeMinutes = MaxAgeMinutes()

    @model_validator(mode="after")
    def _bounds_ordered(self) -> AnomalyConfig:
        if self.iv_min >= self.iv_max:
            raise CrossFieldError("iv_min", "must be below iv_max")
        if self.dvol_min >= self.dvol_max:
            raise CrossFieldError("dvol_min", "must be below dvol_max")
        return self


class KillSwitchConfig(Section):
    """Which exits an operational arming still lets through (docs/risk-controls.md 1)."""

    exits_when_operational: Literal["all", "risk_only", "none"] = "all"


class HealthConfig(Section):
    """health-run (docs/operations.md 7)."""

    strikes_to_arm: Annotated[int, Field(ge=1, le=100)] = 3
    timeout_s: PositiveFloat = 5
    min_free_disk_mb: NonNegFloat = 500


class AlertsConfig(Section):
    """Alert routing (docs/operations.md 6)."""

    dedup_minutes: NonNegFloat = 60


class BackupConfig(Section):
    """backup-run retention (docs/operations.md 7)."""

    keep_hourly: Annotated[int, Field(ge=1)] = 48
    keep_daily: Annotated[int, Field(ge=0)] = 30
    gzip_logs_after_days: Annotated[int, Field(ge=1)] = 30
    keep_chain_days: Annotated[int, Field(ge=1)] = 90


class MetricsConfig(Section):
    """Prometheus textfile output (docs/operations.md 7)."""

    textfile_path: str | None = None


class ServiceConfig(Section):
    """One market service (docs/service-contract.md)."""

    transport: Transport = "mcp"
    url: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class DeribitServiceConfig(ServiceConfig):
    """The broker. ``public_data`` tells where a testnet run reads market data."""

    public_data: Literal["mainnet", "same"] | None = None
    public_url: str | None = None


class HyperliquidServiceConfig(ServiceConfig):
    """Funding source; ``user_address`` for the account value."""

    user_address: str | None = None


class MacroServiceConfig(ServiceConfig):
    """EUR/USD and the macro calendar; ``calendar_file`` for the direct transport."""

    calendar_file: str | None = None


class ServicesConfig(Section):
    """Every service the jobs call."""

    deribit: DeribitServiceConfig = DeribitServiceConfig()
    hyperliquid: HyperliquidServiceConfig = HyperliquidServiceConfig()
    macro: MacroServiceConfig = MacroServiceConfig()
    sentiment: ServiceConfig = ServiceConfig()


SERVICE_NAMES: tuple[str, ...] = tuple(ServicesConfig.model_fields)  # the contract's services


class PaperMarketConfig(Section):
    """Which market the paper exchange simulates (docs/paper-exchange.md 1)."""

    kind: Literal["synthetic", "historical", "scripted"] = "synthetic"
    prices_file: str | None = None
    dvol_file: str | None = None
    script_file: str | None = None

    @model_validator(mode="after")
    def _files_for_kind(self) -> PaperMarketConfig:
        if self.kind == "scripted" and self.script_file is None:
            raise CrossFieldError("script_file", "kind 'scripted' needs script_file")
        return self


class ChainModelConfig(Section):
    """The paper chain's volatility surface and quotes (docs/backtest.md, the market model).

    The defaults are fitted on Deribit's ETH chain of 2025-11-22 02:15 UTC (DVOL 80.5):
    ATM IV = DVOL x (term_long + term_premium e^(-d / term_decay_days)) x
    (1 - near_discount e^(-d / near_decay_days)); the smile over z = ln(K / F) / (ATM
    sqrt(T)) is ATM x (1 + skew z + curvature z^2); a quote's spread is the larger of
    a few ticks and ``spread_rel`` of its mark. The scale and stress terms are
    assumptions (two calm chains cannot calibrate stress): studies vary them.
    """

    term_long: Annotated[float, Field(gt=0, le=2)] = 0.915
    term_premium: Annotated[float, Field(ge=-1, le=1)] = 0.140
    term_decay_days: Annotated[float, Field(gt=0, le=365)] = 27.0
    near_discount: Annotated[float, Field(ge=0, lt=1)] = 0.55
    near_decay_days: Annotated[float, Field(gt=0, le=30)] = 1.4
    skew: Annotated[float, Field(ge=-0.5, le=0.5)] = -0.0455
    curvature: Annotated[float, Field(ge=0, le=0.5)] = 0.0452
    spread_ticks_below: Annotated[int, Field(ge=1, le=50)] = 4  # ticks of 0.0001 under 0.005
    spread_ticks_above: Annotated[int, Field(ge=1, le=50)] = 2  # ticks of 0.0005 from 0.005
    spread_rel: Annotated[float, Field(ge=0, le=1)] = 0.025
    iv_scale: Annotated[float, Field(gt=0, le=3)] = 1.0
    spread_scale: Annotated[float, Field(gt=0, le=10)] = 1.0
    stress_skew_per_dvol_point: Annotated[float, Field(ge=0, le=0.1)] = 0.0
    stress_spread_per_dvol_point: Annotated[float, Field(ge=0, le=1)] = 0.0
    stress_spread_per_move_pct: Annotated[float, Field(ge=0, le=1)] = 0.0


class PaperConfig(Section):
    """The embedded paper exchange (docs/paper-exchange.md)."""

    seed: Annotated[int, Field(ge=0)] = 7
    starting_equity_eth: Annotated[Decimal, Field(gt=0)] = Decimal("10")
    market: PaperMarketConfig = PaperMarketConfig()
    chain: ChainModelConfig = ChainModelConfig()
    price_improvement: Annotated[float, Field(ge=0, le=1)] = 0.5
    fills: Literal["improve", "touch"] = "improve"
    margin_model: Literal["standard", "portfolio"] = "standard"
    perpetual_funding: Literal["market", "none"] = "market"  # none: the hedge pays no funding
    faults: dict[str, dict[str, Any]] | None = None
    serve_token: str | None = Field(default=None, repr=False)
    auto_approve: bool = True


class HedgeConfig(Section):
    """The collateral hedge on the perpetual (docs/strategy.md 14)."""

    mode: Literal["none", "usd"] = "usd"  # chosen by the backtest (docs/backtest.md)
    instrument: Literal["ETH-PERPETUAL"] = "ETH-PERPETUAL"
    target: Literal["collateral", "collateral_and_options"] = "collateral"
    band_pct: Annotated[Decimal, Field(gt=0, le=50)] = Decimal(5)
    max_order_usd: Annotated[Decimal, Field(ge=1)] = Decimal(250000)
    max_funding_pct_per_year: PositiveFloat = 25
    funding_reduced_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.5


class StrategyConfig(Section):
    """The whole of ``strategy.yaml``."""

    underlying: Literal["ETH"] = "ETH"
    execution: ExecutionConfig = ExecutionConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    entry: EntryConfig = EntryConfig()
    bias: BiasConfig = BiasConfig()
    strikes: StrikesConfig = StrikesConfig()
    liquidity: LiquidityConfig = LiquidityConfig()
    sizing: SizingConfig = SizingConfig()
    kelly: KellyConfig = KellyConfig()
    exit: ExitConfig = ExitConfig()
    fees: FeesConfig = FeesConfig()
    anomaly: AnomalyConfig = AnomalyConfig()
    kill_switch: KillSwitchConfig = KillSwitchConfig()
    health: HealthConfig = HealthConfig()
    alerts: AlertsConfig = AlertsConfig()
    backup: BackupConfig = BackupConfig()
    metrics: MetricsConfig = MetricsConfig()
    services: ServicesConfig = ServicesConfig()
    paper: PaperConfig = PaperConfig()
    hedge: HedgeConfig = HedgeConfig()

    @model_validator(mode="after")
    def _mainnet_needs_permission(self) -> StrategyConfig:
        if self.execution.environment == "mainnet" and not self.execution.allow_mainnet:
            raise CrossFieldError(
                "execution.allow_mainnet", "environment mainnet needs allow_mainnet: true"
            )
        return self

    @property
    def deribit_public_data(self) -> Literal["mainnet", "same"]:
        """Where market data comes from: mainnet for a testnet run unless set."""
        explicit = self.services.deribit.public_data
        if explicit is not None:
            return explicit
        return "mainnet" if self.execution.environment == "testnet" else "same"


SECRET_FIELDS: frozenset[str] = frozenset({"paper.serve_token"})
