-- The money ledger and small keyed state (rate-limit buckets, cap counts, run ids).
--
-- Each settled charge is one row, written in the same statement as its page, so money spent and
-- pages kept never disagree; core.budget.Ledger.replay rebuilds the ledger from the rows.
CREATE TABLE ledger (
    id       bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       float8  NOT NULL,            -- settle time, epoch seconds
    run      text    NOT NULL,
    job      text    NOT NULL,
    route    text    NOT NULL,
    day      text    NOT NULL,            -- UTC day, the dedup window
    micros   bigint  NOT NULL,
    reserved bigint  NOT NULL DEFAULT 0,
    keys     jsonb   NOT NULL DEFAULT '[]' -- [[kind, id], ...] newly charged that day
);
CREATE INDEX ledger_at ON ledger (at);

-- Keyed JSON documents: exported engine state that must survive restarts.
CREATE TABLE kv (
    key   text PRIMARY KEY,
    value jsonb NOT NULL
);
