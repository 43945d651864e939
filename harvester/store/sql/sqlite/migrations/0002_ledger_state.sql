-- The money ledger and small keyed state (rate-limit buckets, cap counts, run ids).
--
-- Each settled charge is one row, written in the same transaction as its page, so money spent
-- and pages kept never disagree; core.budget.Ledger.replay rebuilds the ledger from the rows.
CREATE TABLE ledger (
    id       INTEGER PRIMARY KEY,
    at       REAL    NOT NULL,            -- settle time, epoch seconds
    run      TEXT    NOT NULL,
    job      TEXT    NOT NULL,
    route    TEXT    NOT NULL,
    day      TEXT    NOT NULL,            -- UTC day, the dedup window
    micros   INTEGER NOT NULL,
    reserved INTEGER NOT NULL DEFAULT 0,
    keys     TEXT    NOT NULL DEFAULT '[]' -- JSON [[kind, id], ...] newly charged that day
);
CREATE INDEX ledger_at ON ledger (at);

-- Keyed JSON documents: exported engine state that must survive restarts.
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
