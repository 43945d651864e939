-- The queue, per-job counters and committed output lengths.
--
-- Several processes write here at once, so nothing is a single hot row: job counters and output
-- lengths are split into shards (one per backend connection, pg_backend_pid() % 64) that readers
-- add up (counters) or take the greatest of (lengths). A write then never waits for another
-- process's transaction, however many hosts work on one job. Counters are kept by
-- statement-level triggers, so no write path can forget them.

CREATE TABLE jobs (
    job        text PRIMARY KEY,
    last_error text                          -- the job's most recent error (release or fail)
);

CREATE TABLE job_counts (
    job     text    NOT NULL,
    shard   integer NOT NULL,
    tasks   bigint  NOT NULL DEFAULT 0,
    pending bigint  NOT NULL DEFAULT 0,
    claimed bigint  NOT NULL DEFAULT 0,
    done    bigint  NOT NULL DEFAULT 0,
    failed  bigint  NOT NULL DEFAULT 0,
    pages   bigint  NOT NULL DEFAULT 0,
    items   bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (job, shard)
);

CREATE TABLE tasks (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         text    NOT NULL REFERENCES jobs (job),
    key         text    NOT NULL,
    endpoint    text    NOT NULL,
    path_params jsonb   NOT NULL DEFAULT '{}',
    params      jsonb   NOT NULL DEFAULT '{}',
    priority    integer NOT NULL DEFAULT 0,
    not_before  float8  NOT NULL DEFAULT 0,     -- epoch seconds, the callers' clock
    auth        text    NOT NULL DEFAULT 'app',
    write       boolean NOT NULL DEFAULT true,
    state       text    NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'claimed', 'done', 'failed')),
    cursor      text,
    pages       integer NOT NULL DEFAULT 0,
    items       bigint  NOT NULL DEFAULT 0,
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    claimed_by  text,                           -- the worker's name, for status
    owner       text,                           -- the store instance (host:pid:random) holding the claim
    lease_until float8,                         -- epoch seconds; past it, another owner may take over
    claim_token bigint  NOT NULL DEFAULT 0,     -- +1 on every claim: a stale claim cannot commit
    UNIQUE (job, key)
);

-- Claim order. Partial, so done tasks cost nothing; claimed tasks stay in it because an expired
-- lease makes them claimable again (there are only as many as there are workers).
CREATE INDEX tasks_claim ON tasks (priority DESC, id) WHERE state IN ('pending', 'claimed');
-- next_due: the earliest not_before among pending tasks is the first entry.
CREATE INDEX tasks_due ON tasks (not_before) WHERE state = 'pending';
-- recover and close find this store instance's claims.
CREATE INDEX tasks_owner ON tasks (owner) WHERE state = 'claimed';

-- Committed length of each job's output file, sharded like job_counts; the length is the max.
CREATE TABLE outputs (
    job    text    NOT NULL,
    shard  integer NOT NULL,
    length bigint  NOT NULL CHECK (length >= 0),
    PRIMARY KEY (job, shard)
);

-- SET search_path FROM CURRENT pins the functions to this schema: a session with another
-- search_path (psql, a second harvester schema) still counts into the right table.
CREATE FUNCTION harvester_count_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO job_counts AS c (job, shard, tasks, pending, claimed, done, failed, pages, items)
    SELECT job, pg_backend_pid() % 64, count(*),
           count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'claimed'),
           count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'failed'),
           sum(pages), sum(items)
    FROM new_rows
    GROUP BY job
    ORDER BY job  -- one lock order for every writer
    ON CONFLICT (job, shard) DO UPDATE SET
        tasks = c.tasks + excluded.tasks, pending = c.pending + excluded.pending,
        claimed = c.claimed + excluded.claimed, done = c.done + excluded.done,
        failed = c.failed + excluded.failed, pages = c.pages + excluded.pages,
        items = c.items + excluded.items;
    RETURN NULL;
END
$$;

CREATE FUNCTION harvester_count_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO job_counts AS c (job, shard, pending, claimed, done, failed, pages, items)
    SELECT job, pg_backend_pid() % 64, pending, claimed, done, failed, pages, items
    FROM (
        SELECT job,
               sum(sign * (state = 'pending')::int) AS pending,
               sum(sign * (state = 'claimed')::int) AS claimed,
               sum(sign * (state = 'done')::int) AS done,
               sum(sign * (state = 'failed')::int) AS failed,
               sum(sign * pages) AS pages,
               sum(sign * items) AS items
        FROM (
            SELECT job, state, pages, items, 1 AS sign FROM new_rows
            UNION ALL
            SELECT job, state, pages, items, -1 FROM old_rows
        ) AS d
        GROUP BY job
    ) AS delta
    WHERE (pending, claimed, done, failed, pages, items) <> (0, 0, 0, 0, 0, 0)
    ORDER BY job
    ON CONFLICT (job, shard) DO UPDATE SET
        pending = c.pending + excluded.pending, claimed = c.claimed + excluded.claimed,
        done = c.done + excluded.done, failed = c.failed + excluded.failed,
        pages = c.pages + excluded.pages, items = c.items + excluded.items;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION harvester_count_inserted();

CREATE TRIGGER tasks_count_update AFTER UPDATE ON tasks
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION harvester_count_updated();
