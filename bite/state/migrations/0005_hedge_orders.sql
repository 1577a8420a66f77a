-- The collateral hedge's orders on the perpetual (docs/strategy.md 14): a row is written
-- before its order is sent (state pending), so a crash between the send and the record
-- leaves a row that recovery reconciles with the broker by its label.
CREATE TABLE hedge_orders (
    id                  INTEGER PRIMARY KEY,
    label               TEXT NOT NULL UNIQUE,
    instrument_name     TEXT NOT NULL,
    side                TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    amount              INTEGER NOT NULL CHECK (amount >= 1),   -- USD contracts
    price               TEXT NOT NULL,
    target_usd          TEXT NOT NULL,
    reason              TEXT NOT NULL,
    broker_order_id     TEXT,
    state               TEXT NOT NULL CHECK (state IN
                        ('pending', 'open', 'filled', 'rejected', 'cancelled', 'unknown')),
    filled_amount       INTEGER NOT NULL DEFAULT 0,
    average_price       TEXT,
    fee_eth             TEXT NOT NULL DEFAULT '0',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX hedge_orders_state ON hedge_orders (state);
