"""How many contracts: budget, caps, depth and margin (docs/strategy.md section 5)."""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

from bite.config.schema import StrategyConfig
from bite.core.margin import spread_initial_margin
from bite.core.types import SizingContext, SizingResult

_CAP_REASON = {"budget": "undersize", "depth": "thin_book", "margin": "margin"}


def _floor_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def compute_contracts(ctx: SizingContext, cfg: StrategyConfig) -> SizingResult:
    """Size the spread; n < 1 names the binding cap (``undersize``, ``thin_book``, ``margin``)."""
    risk_fraction = Decimal(str(ctx.risk_fraction))
    budget = min(ctx.equity_eur * risk_fraction, cfg.sizing.max_loss_per_trade_eur)
    if ctx.halve_for_macro:
        budget = budget / 2
    sizing_loss_eur = (ctx.width_usd + ctx.fees_round_trip_eth * ctx.spot) / ctx.eur_usd
    n_budget = max(_floor_int(budget / sizing_loss_eur), 0) if sizing_loss_eur > 0 else 0

    caps: dict[str, int] = {"budget": n_budget, "max_contracts": cfg.sizing.max_contracts}

    n_depth: int | None = None
    bid_amount = ctx.short.bid_amount
    ask_amount = ctx.long.ask_amount
    if bid_amount is not None and ask_amount is not None:
        n_depth = max(math.floor(min(bid_amount, ask_amount) / cfg.liquidity.min_depth_multiple), 0)
        caps["depth"] = n_depth

    if ctx.order_margin_eth_per_contract is not None:
        per_contract = ctx.order_margin_eth_per_contract
        source: str = "broker"
    else:
        per_contract = spread_initial_margin(ctx.short, ctx.short.forward)
        source = "standard_formula"
    room = Decimal(str(cfg.sizing.max_initial_margin_fraction)) * ctx.equity_eth
    room -= ctx.account_initial_margin_eth
    n_margin = max(_floor_int(room / per_contract), 0) if per_contract > 0 else None
    if n_margin is not None:
        caps["margin"] = n_margin

    n = min(caps.values())
    # the binding cap: the smallest; ties go to budget, then depth, then margin
    order = ["budget", "max_contracts", "depth", "margin"]
    binding = min((name for name in order if name in caps), key=lambda k: (caps[k], order.index(k)))
    reason = _CAP_REASON.get(binding) if n < 1 else None
    return SizingResult(
        contracts=max(n, 0),
        reason=reason,
        binding_cap=binding,
        budget_eur=budget,
        sizing_loss_eur=sizing_loss_eur,
        n_budget=n_budget,
        n_max_contracts=cfg.sizing.max_contracts,
        n_depth=n_depth,
        n_margin=n_margin,
        margin_per_contract_eth=per_contract,
        margin_source="broker" if source == "broker" else "standard_formula",
    )
