-- Why a task failed, and superseded tasks as a state of their own (issue 14).
--
-- tasks.failure: the failure's class (core.model.Failure), so what a rerun does with a failed
-- task is a decision on data: `harvester run` puts back those a rerun can fix (auth, transport,
-- server, response, rate_limit) and leaves the others (invalid, refused) to `harvester retry`
-- or a changed job definition.
-- state 'superseded': an older generation's unfinished task (the job's definition changed). It
-- is no failure: counted apart (jobs.superseded), never claimed, never retried.
--
-- SQLite cannot change a CHECK constraint in place, so tasks is rebuilt (renamed aside, created
-- anew, copied, dropped; indexes and triggers recreated). Failed rows of older versions get their
-- class from their error text, once, here; from now on the class is written with the failure.

DROP TRIGGER tasks_count_insert;
DROP TRIGGER tasks_count_update;
DROP INDEX tasks_claim;
DROP INDEX tasks_due;
DROP INDEX tasks_lease;
ALTER TABLE tasks RENAME TO tasks_before_0005;

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
                CHECK (state IN ('pending', 'claimed', 'done', 'failed', 'superseded')),
    cursor      TEXT,
    pages       INTEGER NOT NULL DEFAULT 0,
    items       INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    failure     TEXT,                              -- core.model.Failure; NULL unless failed/superseded
    claimed_by  TEXT,
    lease_until REAL,
    UNIQUE (job, key)
);

INSERT INTO tasks (id, job, key, endpoint, path_params, params, priority, not_before, auth, write, state,
                   cursor, pages, items, attempts, last_error, failure, claimed_by, lease_until)
SELECT id, job, key, endpoint, path_params, params, priority, not_before, auth, write,
       CASE WHEN state = 'failed' AND last_error LIKE 'superseded:%' THEN 'superseded' ELSE state END,
       cursor, pages, items, attempts, last_error,
       CASE
           WHEN state <> 'failed' THEN NULL
           WHEN last_error LIKE 'superseded:%' THEN 'superseded'
           WHEN last_error LIKE 'HTTP 401%' THEN 'auth'
           WHEN last_error LIKE 'gave up after % attempts: no response%' THEN 'transport'
           WHEN last_error LIKE 'gave up after % attempts: HTTP 5%' THEN 'server'
           WHEN last_error LIKE 'gave up after % attempts: bad response%' THEN 'response'
           WHEN last_error LIKE 'gave up after %' THEN 'transport'
           WHEN last_error LIKE '%HTTP 429%' THEN 'rate_limit'
           WHEN last_error LIKE 'HTTP 400%' OR last_error LIKE 'job %: the server refused %' THEN 'invalid'
           ELSE 'refused'
       END,
       claimed_by, lease_until
FROM tasks_before_0005;

DROP TABLE tasks_before_0005;

CREATE INDEX tasks_claim ON tasks (priority DESC, id) WHERE state = 'pending';
CREATE INDEX tasks_due ON tasks (not_before) WHERE state = 'pending';
CREATE INDEX tasks_lease ON tasks (lease_until) WHERE state = 'claimed';
-- A rerun looks for the failures it may put back: few rows, so a small partial index.
CREATE INDEX tasks_failed ON tasks (job) WHERE state = 'failed';

ALTER TABLE jobs ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET
    failed     = (SELECT count(*) FROM tasks WHERE tasks.job = jobs.job AND tasks.state = 'failed'),
    superseded = (SELECT count(*) FROM tasks WHERE tasks.job = jobs.job AND tasks.state = 'superseded');

CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks
BEGIN
    UPDATE jobs SET
        tasks      = tasks + 1,
        pending    = pending + (NEW.state = 'pending'),
        claimed    = claimed + (NEW.state = 'claimed'),
        done       = done + (NEW.state = 'done'),
        failed     = failed + (NEW.state = 'failed'),
        superseded = superseded + (NEW.state = 'superseded'),
        pages      = pages + NEW.pages,
        items      = items + NEW.items
    WHERE job = NEW.job;
END;

CREATE TRIGGER tasks_count_update AFTER UPDATE OF state, pages, items ON tasks
BEGIN
    UPDATE jobs SET
        pending    = pending + (NEW.state = 'pending') - (OLD.state = 'pending'),
        claimed    = claimed + (NEW.state = 'claimed') - (OLD.state = 'claimed'),
        done       = done + (NEW.state = 'done') - (OLD.state = 'done'),
        failed     = failed + (NEW.state = 'failed') - (OLD.state = 'failed'),
        superseded = superseded + (NEW.state = 'superseded') - (OLD.state = 'superseded'),
        pages      = pages + NEW.pages - OLD.pages,
        items      = items + NEW.items - OLD.items
    WHERE job = NEW.job;
END;
