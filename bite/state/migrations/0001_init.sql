-- The first schema of data/state.sqlite (operations.md 4). Decimal amounts are TEXT.

CREATE TABLE positions (
    id                  TEXT PRIMARY KEY,             -- the proposal id
    status              TEXT NOT NULL CHECK (status IN
                        ('proposed', 'awaiting_fill', 'open', 'closing', 'closed',
                         'cancelled', 'expired')),
    spread_type         TEXT NOT NULL CHECK (spread_type IN ('bull_put', 'bear_call')),
    short_instrument    TEXT NOT NULL,
    long_instrument     TEXT NOT NULL,
    short_strike        TEXT NOT NULL,
    long_strike         TEXT NOT NULL,
    expiry              TEXT NOT NULL,
    contracts           INTEGER NOT NULL CHECK (contracts >= 0),
    contracts_proposed  INTEGER NOT NULL CHECK (contracts_proposed >= 1),
    entry_credit_eth    TEXT,
    entry_credit_usd    TEXT,
    entry_credit_eur    TEXT,
    width_usd           TEXT NOT NULL,
    max_loss_usd        TEXT NOT NULL,
    sizing_loss_usd     TEXT NOT NULL,
    sizing_loss_eur     TEXT NOT NULL,
    spot_at_entry       TEXT NOT NULL,
    dvol_at_entry       REAL NOT NULL,
    greeks_at_entry     TEXT NOT NULL,                -- JSON
    proposal            TEXT NOT NULL,                -- JSON of the whole proposal
    sample_id           INTEGER REFERENCES samples (id),
    close_reason        TEXT,
    close_debit_eth     TEXT,
    realized_pnl_eth    TEXT NOT NULL DEFAULT '0',
    realized_pnl_usd    TEXT NOT NULL DEFAULT '0',
    realized_pnl_eur    TEXT NOT NULL DEFAULT '0',
    fees_eth            TEXT NOT NULL DEFAULT '0',
    r_multiple          REAL,
    created_at          TEXT NOT NULL,
    opened_at           TEXT,
    closed_at           TEXT,
    updated_at          TEXT NOT NULL
);
CREATE INDEX positions_status ON positions (status);

CREATE TABLE orders (
    id                  INTEGER PRIMARY KEY,
    position_id         TEXT NOT NULL REFERENCES positions (id),
    kind                TEXT NOT NULL CHECK (kind IN ('entry', 'exit')),
    attempt             INTEGER NOT NULL CHECK (attempt >= 0),
    label               TEXT NOT NULL UNIQUE,
    legs                TEXT NOT NULL,                -- JSON list of {instrument_name, direction}
    side                TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    amount              INTEGER NOT NULL CHECK (amount >= 1),
    ladder              TEXT NOT NULL,                -- JSON list of prices
    price               TEXT NOT NULL,
    broker_order_id     TEXT,
    state               TEXT NOT NULL CHECK (state IN
                        ('pending', 'open', 'filled', 'rejected', 'cancelled', 'untriggered',
                         'unknown')),
    filled_amount       INTEGER NOT NULL DEFAULT 0,
    average_price       TEXT,
    reject_reason       TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX orders_position ON orders (position_id);

CREATE TABLE fills (
    id                  INTEGER PRIMARY KEY,
    trade_id            TEXT NOT NULL UNIQUE,
    order_id            INTEGER NOT NULL REFERENCES orders (id),
    instrument_name     TEXT NOT NULL,
    direction           TEXT NOT NULL CHECK (direction IN ('buy', 'sell')),
    amount              TEXT NOT NULL,
    price               TEXT NOT NULL,
    fee                 TEXT NOT NULL,
    fee_currency        TEXT NOT NULL,
    timestamp           TEXT NOT NULL
);
CREATE INDEX fills_order ON fills (order_id);

CREATE TABLE system_state (
    key                 TEXT PRIMARY KEY,
    value               TEXT NOT NULL,                -- JSON
    updated_at          TEXT NOT NULL
);

CREATE TABLE samples (
    id                  INTEGER PRIMARY KEY,
    started_at          TEXT NOT NULL,
    reason              TEXT NOT NULL,
    config_hash         TEXT
);

CREATE TABLE config_versions (
    id                  INTEGER PRIMARY KEY,
    hash                TEXT NOT NULL,
    dump                TEXT NOT NULL,                -- canonical JSON of the validated config
    source_file         TEXT NOT NULL,
    approved_at         TEXT NOT NULL,
    approved_by         TEXT NOT NULL CHECK (approved_by IN ('operator', 'paper_auto')),
    new_sample          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX config_versions_hash ON config_versions (hash);

CREATE TABLE job_runs (
    id                  INTEGER PRIMARY KEY,
    job                 TEXT NOT NULL,
    started_at          TEXT NOT NULL,
    finished_at         TEXT,
    status              TEXT,
    exit_code           INTEGER,
    dry_run             INTEGER NOT NULL DEFAULT 0,
    reasons             TEXT NOT NULL DEFAULT '[]',
    details             TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX job_runs_job ON job_runs (job, started_at);

CREATE TABLE dvol_snapshots (
    ts                  TEXT PRIMARY KEY,
    dvol                REAL NOT NULL,
    spot                TEXT NOT NULL
);

CREATE TABLE equity_snapshots (
    ts                  TEXT PRIMARY KEY,
    equity_eth          TEXT NOT NULL,
    equity_eur          TEXT NOT NULL,
    equity_usd          TEXT NOT NULL
);

CREATE TABLE kelly_estimates (
    id                  INTEGER PRIMARY KEY,
    ts                  TEXT NOT NULL,
    sample_id           INTEGER REFERENCES samples (id),
    n                   INTEGER NOT NULL,
    risk_fraction       REAL NOT NULL,
    drawdown_pct        REAL NOT NULL,
    negative_edge       INTEGER NOT NULL,
    details             TEXT NOT NULL                 -- JSON of the whole estimate
);

CREATE TABLE alerts (
    id                  INTEGER PRIMARY KEY,
    ts                  TEXT NOT NULL,
    severity            TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    source              TEXT NOT NULL,
    key                 TEXT NOT NULL,
    message             TEXT NOT NULL,
    sent                INTEGER NOT NULL DEFAULT 0,
    details             TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX alerts_source_key ON alerts (source, key, ts);
