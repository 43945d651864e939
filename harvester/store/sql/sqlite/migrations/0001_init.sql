-- The queue, per-job counters and committed output lengths.
--
-- Job counters are kept by triggers, so `harvester status` and the queue depth read one row per
-- job instead of scanning a million tasks, and no write path (commit, release, recover) can
-- forget to update them.

CREATE TABLE jobs (
    job        TEXT PRIMARY KEY,
    tasks      INTEGER NOT NULL DEFAULT 0,
    pending    INTEGER NOT NULL DEFAULT 0,
    claimed    INTEGER NOT NULL DEFAULT 0,
    done       INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    pages      INTEGER NOT NULL DEFAULT 0,
    items      INTEGER NOT NULL DEFAULT 0,
    last_error TEXT                          -- the job's most recent error (release or fail)
);

CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    job         TEXT    NOT NULL REFERENCES jobs (job),
    key         TEXT    NOT NULL,
    endpoint    TEXT    NOT NULL,
    path_params TEXT    NOT NULL DEFAULT '{}',     -- JSON object
    params      TEXT    NOT NULL DEFAULT '{}',     -- JSON object
    priority    INTEGER NOT NULL DEFAULT 0,
    not_before  REAL    NOT NULL DEFAULT 0,        -- epoch seconds
    auth        TEXT    NOT NULL DEFAULT 'app',
    write       INTEGER NOT NULL DEFAULT 1 CHECK (write IN (0, 1)),
    state       TEXT    NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'claimed', 'done', 'failed')),
    cursor      TEXT,
    pages       INTEGER NOT NULL DEFAULT 0,
    items       INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    claimed_by  TEXT,
    lease_until REAL,
    UNIQUE (job, key)
);

-- Claim order. Partial, so done tasks cost nothing and the first due entry is a short walk from
-- the front; a claim skips only pending tasks that are not yet due.
CREATE INDEX tasks_claim ON tasks (priority DESC, id) WHERE state = 'pending';
-- next_due: the earliest not_before among pending tasks is the first entry.
CREATE INDEX tasks_due ON tasks (not_before) WHERE state = 'pending';
-- recover and (later) lease expiry touch only claimed tasks.
CREATE INDEX tasks_lease ON tasks (lease_until) WHERE state = 'claimed';

-- Committed length of each job's output file.
CREATE TABLE outputs (
    job    TEXT PRIMARY KEY,
    length INTEGER NOT NULL CHECK (length >= 0)
);

CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks
BEGIN
    UPDATE jobs SET
        tasks   = tasks + 1,
        pending = pending + (NEW.state = 'pending'),
        claimed = claimed + (NEW.state = 'claimed'),
        done    = done + (NEW.state = 'done'),
        failed  = failed + (NEW.state = 'failed'),
        pages   = pages + NEW.pages,
        items   = items + NEW.items
    WHERE job = NEW.job;
END;

CREATE TRIGGER tasks_count_update AFTER UPDATE OF state, pages, items ON tasks
BEGIN
    UPDATE jobs SET
        pending = pending + (NEW.state = 'pending') - (OLD.state = 'pending'),
        claimed = claimed + (NEW.state = 'claimed') - (OLD.state = 'claimed'),
        done    = done + (NEW.state = 'done') - (OLD.state = 'done'),
        failed  = failed + (NEW.state = 'failed') - (OLD.state = 'failed'),
        pages   = pages + NEW.pages - OLD.pages,
        items   = items + NEW.items - OLD.items
    WHERE job = NEW.job;
END;
