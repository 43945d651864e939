-- The object cache: posts and users already fetched, with their fetch time, so a lookup of ids
-- fetched within the TTL sends no request. ``shape`` names the fields and expansions the object
-- was fetched with: an object fetched with fewer fields never answers a richer request.
CREATE TABLE cache (
    kind       TEXT NOT NULL,
    shape      TEXT NOT NULL,
    id         TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (kind, shape, id)
);
