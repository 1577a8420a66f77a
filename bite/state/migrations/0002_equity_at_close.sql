-- The account equity (EUR) when a position closed: the drawdown's denominator (strategy.md 8).
ALTER TABLE positions ADD COLUMN equity_eur_at_close TEXT;
