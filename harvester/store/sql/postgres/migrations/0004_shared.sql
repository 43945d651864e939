-- What several processes need to share one quota, one budget and one cap (core/shared.py).
--
-- ledger.posts: cap-counted Posts per charge, so every process can fold in the others' reads.
-- ledger.xid: the writing transaction. A process reads the rows it has not yet seen as "xid at
-- or above the oldest transaction still running when I last looked": rows below that mark are
-- final, so nothing committed late (a lower id made visible after a higher one) is ever missed.
ALTER TABLE ledger ADD COLUMN posts bigint NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX ledger_xid ON ledger (xid);

-- Every request sent, per bucket ("<route> <auth context>"), for the shared sliding guard.
-- Rows older than a window plus latency are deleted as buckets are used.
CREATE TABLE grants (
    bucket text   NOT NULL,
    at     float8 NOT NULL
);
CREATE INDEX grants_bucket_at ON grants (bucket, at);

-- Requests in flight: their worst-case cost and Post count, until their page commits (deleted
-- in the commit's statement) or they end otherwise. An expired hold's owner is presumed dead:
-- the hold becomes a worst-case ledger row.
CREATE TABLE holds (
    id      bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner   text    NOT NULL,    -- the store instance (as tasks.owner)
    run     text    NOT NULL,
    job     text    NOT NULL,
    route   text    NOT NULL,
    micros  bigint  NOT NULL,
    posts   bigint  NOT NULL,
    at      float8  NOT NULL,
    expires float8  NOT NULL
);
