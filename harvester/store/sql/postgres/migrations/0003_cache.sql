-- The object cache (see the SQLite migration of the same number).
CREATE TABLE cache (
    kind       TEXT NOT NULL,
    shape      TEXT NOT NULL,
    id         TEXT NOT NULL,
    fetched_at DOUBLE PRECISION NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (kind, shape, id)
);
