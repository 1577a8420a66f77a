"""The bot's equity in EUR and its exposure per asset (for sizing and ``bite status``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bite.clients.deribit import DeribitClient
from bite.clients.hyperliquid import HyperliquidClient
from bite.clients.macro import MacroClient


@dataclass(frozen=True)
class Portfolio:
    """Equity by venue and in total (EUR); sizing uses the Deribit part only."""

    deribit_eth: Decimal
    deribit_usd: Decimal
    deribit_eur: Decimal
    hyperliquid_usd: Decimal
    eur_usd: Decimal

    @property
    def total_eur(self) -> Decimal:
        """Both venues in EUR."""
        return self.deribit_eur + self.hyperliquid_usd / self.eur_usd

    @property
    def eth_exposure(self) -> Decimal:
        """ETH held as collateral (the unhedged delta of the account)."""
        return self.deribit_eth


class PortfolioClient:
    """Composes Deribit equity, the index, Hyperliquid's value and EUR/USD."""

    def __init__(
        self, deribit: DeribitClient, hyperliquid: HyperliquidClient, macro: MacroClient
    ) -> None:
        self.deribit = deribit
        self.hyperliquid = hyperliquid
        self.macro = macro

    async def deribit_equity_eur(self, index: Decimal, eur_usd: Decimal) -> tuple[Decimal, Decimal]:
        """(equity in ETH, equity in EUR) of the account that carries the trade."""
        summary = await self.deribit.account_summary()
        return summary.equity, summary.equity * index / eur_usd

    async def portfolio(self) -> Portfolio:
        """Everything, for ``bite status``."""
        index, _ = await self.deribit.index_price()
        rate = await self.macro.eur_usd()
        eth, eur = await self.deribit_equity_eur(index, rate.rate)
        hl = await self.hyperliquid.account_value()
        return Portfolio(eth, eth * index, eur, hl, rate.rate)
