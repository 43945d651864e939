-- Named queries of the SQLite store, parsed by harvester.store.sql_loader.
-- A query starts at a `-- name --` line and runs to the next one.

-- insert_job --
-- A job row must exist before its tasks (foreign key, and the counters live there).
INSERT INTO jobs (job) VALUES (?) ON CONFLICT (job) DO NOTHING

-- insert_task --
-- Re-planning a job is idempotent: an existing (job, key) keeps its state.
INSERT INTO tasks (job, key, endpoint, path_params, params, priority, not_before, auth, write, deadline)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (job, key) DO NOTHING

-- claim_tasks --
-- One statement: find the due tasks and mark them claimed. First the tasks past their deadline
-- (the starvation guard, migration 0006: earliest deadline first, through tasks_deadline), then
-- the rest in claim order through tasks_claim. INDEXED BY pins the plans (after ANALYZE the
-- planner may prefer tasks_due and sort every due task). A compound SELECT yields its left part
-- first, so the outer LIMIT keeps the overdue ones. RETURNING does not keep the subquery's order,
-- so the caller sorts (deadline is returned last for that).
UPDATE tasks
SET state = 'claimed', claimed_by = :worker, lease_until = :lease_until
WHERE id IN (
    SELECT id FROM (
        SELECT id FROM tasks INDEXED BY tasks_deadline
        WHERE state = 'pending' AND deadline IS NOT NULL AND deadline <= :now AND not_before <= :now
        ORDER BY deadline
        LIMIT :limit
    )
    UNION ALL
    SELECT id FROM (
        SELECT id FROM tasks INDEXED BY tasks_claim
        WHERE state = 'pending' AND not_before <= :now AND NOT coalesce(deadline <= :now, 0)
        ORDER BY priority DESC, id
        LIMIT :limit
    )
    LIMIT :limit
)
RETURNING id, job, key, endpoint, path_params, params, priority, auth, write,
          cursor, pages, items, attempts, last_error, deadline

-- claim_tasks_filtered --
-- As claim_tasks, leaving out closed buckets (endpoint, auth) and jobs outside this run.
UPDATE tasks
SET state = 'claimed', claimed_by = :worker, lease_until = :lease_until
WHERE id IN (
    SELECT id FROM (
        SELECT id FROM tasks INDEXED BY tasks_deadline
        WHERE state = 'pending' AND deadline IS NOT NULL AND deadline <= :now AND not_before <= :now
          AND (endpoint || ' ' || auth) NOT IN (SELECT value FROM json_each(:skip))
          AND (:jobs IS NULL OR job IN (SELECT value FROM json_each(:jobs)))
        ORDER BY deadline
        LIMIT :limit
    )
    UNION ALL
    SELECT id FROM (
        SELECT id FROM tasks INDEXED BY tasks_claim
        WHERE state = 'pending' AND not_before <= :now AND NOT coalesce(deadline <= :now, 0)
          AND (endpoint || ' ' || auth) NOT IN (SELECT value FROM json_each(:skip))
          AND (:jobs IS NULL OR job IN (SELECT value FROM json_each(:jobs)))
        ORDER BY priority DESC, id
        LIMIT :limit
    )
    LIMIT :limit
)
RETURNING id, job, key, endpoint, path_params, params, priority, auth, write,
          cursor, pages, items, attempts, last_error, deadline

-- commit_page --
-- Guarded by state: a second commit of the same claim (or one after release/recover) changes
-- nothing, and the caller turns rowcount 0 into ClaimLost. A task whose pages are not written
-- (a username lookup) counts no pages or items: the job's figures are its output's.
UPDATE tasks
SET cursor = :cursor,
    pages = pages + write,
    items = items + write * :items,
    attempts = 0,
    state = CASE WHEN :cursor IS NULL THEN 'done' ELSE 'pending' END,
    claimed_by = NULL,
    lease_until = NULL
WHERE id = :id AND state = 'claimed'

-- set_output_length --
-- Never shrinks: if two commits of one file arrive out of order, the longer committed length wins
-- (bytes under a committed length are never cut back).
INSERT INTO outputs (job, length) VALUES (:job, :length)
ON CONFLICT (job) DO UPDATE SET length = max(length, excluded.length)

-- release_task --
UPDATE tasks
SET state = 'pending',
    not_before = :not_before,
    attempts = attempts + (:error IS NOT NULL),
    last_error = coalesce(:error, last_error),
    claimed_by = NULL,
    lease_until = NULL
WHERE id = :id AND state = 'claimed'
RETURNING job

-- finish_task --
-- A claimed task ends without a page: its job reached its item limit (JobSpec.limit).
UPDATE tasks
SET state = 'done',
    claimed_by = NULL,
    lease_until = NULL
WHERE id = :id AND state = 'claimed'
RETURNING job

-- fail_task --
-- :failure is the class (core.model.Failure); 'superseded' is no failure but a state of its own.
UPDATE tasks
SET state = CASE WHEN :failure = 'superseded' THEN 'superseded' ELSE 'failed' END,
    attempts = attempts + (:failure <> 'superseded'),
    last_error = :error,
    failure = :failure,
    claimed_by = NULL,
    lease_until = NULL
WHERE id = :id AND state = 'claimed'
RETURNING job

-- retry_failed --
-- Failed tasks back to pending: attempts reset, cursor kept (the next page is the one after the
-- last committed), due at :not_before. :failures (a JSON array, or NULL for any) picks classes.
UPDATE tasks
SET state = 'pending', attempts = 0, not_before = :not_before, failure = NULL
WHERE state = 'failed'
  AND (:failures IS NULL OR failure IN (SELECT value FROM json_each(:failures)))
  AND (:jobs IS NULL OR job IN (SELECT value FROM json_each(:jobs)))

-- retry_waiting --
-- Pending tasks waiting out a retry back-off (an attempt was spent): due again, attempts reset.
UPDATE tasks
SET attempts = 0, not_before = min(not_before, :not_before)
WHERE state = 'pending' AND attempts > 0
  AND (:jobs IS NULL OR job IN (SELECT value FROM json_each(:jobs)))

-- supersede --
-- Every pending or failed task of :job whose key is of another generation than :generation (the
-- key's `~g<n>` suffix; none is generation 0). Claimed ones are left to their claimer.
UPDATE tasks
SET state = 'superseded', failure = 'superseded', last_error = :error, claimed_by = NULL, lease_until = NULL
WHERE job = :job AND state IN ('pending', 'failed')
  AND (CASE WHEN instr(key, '~g') > 0 THEN CAST(substr(key, instr(key, '~g') + 2) AS INTEGER) ELSE 0 END)
      <> :generation

-- forget_tasks --
DELETE FROM tasks WHERE job = :job

-- forget_job --
DELETE FROM jobs WHERE job = :job

-- forget_state_key --
DELETE FROM kv WHERE key = :key

-- forget_state --
DELETE FROM kv WHERE substr(key, 1, length(:prefix)) = :prefix

-- generation_stats --
-- Figures per job and generation: a scan of the tasks, for `harvester status --all` only.
SELECT job, generation, count(*), sum(state = 'pending'), sum(state = 'claimed'), sum(state = 'done'),
       sum(state = 'failed'), sum(state = 'superseded'), sum(pages), sum(items)
FROM (
    SELECT job, state, pages, items,
           CASE WHEN instr(key, '~g') > 0 THEN CAST(substr(key, instr(key, '~g') + 2) AS INTEGER) ELSE 0 END
               AS generation
    FROM tasks
)
GROUP BY job, generation
ORDER BY job, generation

-- set_job_error --
UPDATE jobs SET last_error = :error WHERE job = :job

-- recover --
UPDATE tasks
SET state = 'pending', claimed_by = NULL, lease_until = NULL
WHERE state = 'claimed'

-- output_lengths --
SELECT job, length FROM outputs ORDER BY job

-- job_stats --
SELECT job, tasks, pending, claimed, done, failed, pages, items, last_error, superseded
FROM jobs
ORDER BY job

-- pending_count --
SELECT coalesce(sum(pending + claimed), 0) FROM jobs

-- demand --
-- Tasks due or in flight per (endpoint, auth) of the given jobs: a bucket's queued demand,
-- which auto pacing compares with what its window has left.
SELECT endpoint, auth, count(*) FROM tasks
WHERE (state = 'claimed' OR (state = 'pending' AND not_before <= :now))
  AND job IN (SELECT value FROM json_each(:jobs))
GROUP BY endpoint, auth

-- next_due --
SELECT min(not_before) FROM tasks WHERE state = 'pending'

-- pending_count_jobs --
SELECT coalesce(sum(pending + claimed), 0) FROM jobs WHERE job IN (SELECT value FROM json_each(:jobs))

-- next_due_jobs --
SELECT min(not_before) FROM tasks
WHERE state = 'pending' AND job IN (SELECT value FROM json_each(:jobs))

-- insert_ledger --
INSERT INTO ledger (at, run, job, route, day, micros, reserved, keys, posts)
VALUES (:at, :run, :job, :route, :day, :micros, :reserved, :keys, :posts)

-- ledger_since --
SELECT at, run, job, route, day, micros, reserved, keys, posts FROM ledger WHERE at >= :since ORDER BY id

-- get_kv --
SELECT value FROM kv WHERE key = :key

-- put_kv --
INSERT INTO kv (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- cache_put --
INSERT INTO cache (kind, shape, id, fetched_at, body) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (kind, shape, id) DO UPDATE SET fetched_at = excluded.fetched_at, body = excluded.body

-- cache_prune --
-- Objects fetched before :before (the current UTC day's start) can answer no lookup any more.
DELETE FROM cache WHERE fetched_at < :before

-- ledger_compact --
-- The ids a row charged matter only on its UTC day (X dedups charges per UTC day): rows settled
-- before :before (the current UTC day's start) keep their money and Post count, not their ids.
UPDATE ledger SET keys = '[]' WHERE at < :before AND keys <> '[]'

-- cache_get --
SELECT id, body FROM cache
WHERE kind = :kind AND shape = :shape AND fetched_at >= :since
  AND id IN (SELECT value FROM json_each(:ids))
