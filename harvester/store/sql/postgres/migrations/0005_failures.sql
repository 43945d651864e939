-- Why a task failed, and superseded tasks as a state of their own (issue 14).
--
-- tasks.failure: the failure's class (core.model.Failure), so what a rerun does with a failed
-- task is a decision on data: `harvester run` puts back those a rerun can fix (auth, transport,
-- server, response, rate_limit) and leaves the others (invalid, refused) to `harvester retry`
-- or a changed job definition.
-- state 'superseded': an older generation's unfinished task (the job's definition changed). It
-- is no failure: counted apart (job_counts.superseded), never claimed, never retried.
-- Failed rows of older versions get their class from their error text, once, here.

ALTER TABLE tasks ADD COLUMN failure text;  -- core.model.Failure; NULL unless failed/superseded
ALTER TABLE tasks DROP CONSTRAINT tasks_state_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_state_check
    CHECK (state IN ('pending', 'claimed', 'done', 'failed', 'superseded'));
-- A rerun looks for the failures it may put back: few rows, so a small partial index.
CREATE INDEX tasks_failed ON tasks (job) WHERE state = 'failed';

ALTER TABLE job_counts ADD COLUMN superseded bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION harvester_count_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO job_counts AS c (job, shard, tasks, pending, claimed, done, failed, superseded, pages, items)
    SELECT job, pg_backend_pid() % 64, count(*),
           count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'claimed'),
           count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'failed'),
           count(*) FILTER (WHERE state = 'superseded'), sum(pages), sum(items)
    FROM new_rows
    GROUP BY job
    ORDER BY job  -- one lock order for every writer
    ON CONFLICT (job, shard) DO UPDATE SET
        tasks = c.tasks + excluded.tasks, pending = c.pending + excluded.pending,
        claimed = c.claimed + excluded.claimed, done = c.done + excluded.done,
        failed = c.failed + excluded.failed, superseded = c.superseded + excluded.superseded,
        pages = c.pages + excluded.pages, items = c.items + excluded.items;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION harvester_count_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO job_counts AS c (job, shard, pending, claimed, done, failed, superseded, pages, items)
    SELECT job, pg_backend_pid() % 64, pending, claimed, done, failed, superseded, pages, items
    FROM (
        SELECT job,
               sum(sign * (state = 'pending')::int) AS pending,
               sum(sign * (state = 'claimed')::int) AS claimed,
               sum(sign * (state = 'done')::int) AS done,
               sum(sign * (state = 'failed')::int) AS failed,
               sum(sign * (state = 'superseded')::int) AS superseded,
               sum(sign * pages) AS pages,
               sum(sign * items) AS items
        FROM (
            SELECT job, state, pages, items, 1 AS sign FROM new_rows
            UNION ALL
            SELECT job, state, pages, items, -1 FROM old_rows
        ) AS d
        GROUP BY job
    ) AS delta
    WHERE (pending, claimed, done, failed, superseded, pages, items) <> (0, 0, 0, 0, 0, 0, 0)
    ORDER BY job
    ON CONFLICT (job, shard) DO UPDATE SET
        pending = c.pending + excluded.pending, claimed = c.claimed + excluded.claimed,
        done = c.done + excluded.done, failed = c.failed + excluded.failed,
        superseded = c.superseded + excluded.superseded,
        pages = c.pages + excluded.pages, items = c.items + excluded.items;
    RETURN NULL;
END
$$;

-- The counters follow through the trigger above.
UPDATE tasks
SET state = CASE WHEN last_error LIKE 'superseded:%' THEN 'superseded' ELSE 'failed' END,
    failure = CASE
        WHEN last_error LIKE 'superseded:%' THEN 'superseded'
        WHEN last_error LIKE 'HTTP 401%' THEN 'auth'
        WHEN last_error LIKE 'gave up after % attempts: no response%' THEN 'transport'
        WHEN last_error LIKE 'gave up after % attempts: HTTP 5%' THEN 'server'
        WHEN last_error LIKE 'gave up after % attempts: bad response%' THEN 'response'
        WHEN last_error LIKE 'gave up after %' THEN 'transport'
        WHEN last_error LIKE '%HTTP 429%' THEN 'rate_limit'
        WHEN last_error LIKE 'HTTP 400%' OR last_error LIKE 'job %: the server refused %' THEN 'invalid'
        ELSE 'refused'
    END
WHERE state = 'failed';
