-- monitor-run's last full evaluation of each position: what bite status (and a dashboard)
-- show without asking the broker, with its time so that its age is shown too.
CREATE TABLE position_evaluations (
    position_id TEXT PRIMARY KEY REFERENCES positions(id),
    evaluated_at TEXT NOT NULL,
    action TEXT NOT NULL,
    numbers TEXT NOT NULL
);
