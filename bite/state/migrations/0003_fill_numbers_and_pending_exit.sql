-- The breakeven at expiry from the credit actually received (max_loss_usd is rewritten at the fill too).
ALTER TABLE positions ADD COLUMN breakeven_usd TEXT;
-- A risk exit that did not fill within its run: the rule, and since when; the next run starts there.
ALTER TABLE positions ADD COLUMN exit_pending_rule TEXT;
ALTER TABLE positions ADD COLUMN exit_pending_since TEXT;
