-- Named queries of the PostgreSQL store, parsed by harvester.store.sql_loader.
-- A query starts at a `-- name --` line and runs to the next one. Every write is one statement
-- (run in autocommit), so it is atomic and holds its row locks for no network round trip.

-- insert_tasks --
-- $1..$10: parallel arrays, one element per task. The job rows come first (a sibling CTE; the
-- foreign key is checked at the end of the statement). Re-planning is idempotent: an existing
-- (job, key), even one earlier in the same arrays, keeps its state. The status is "INSERT 0 n".
WITH new_jobs AS (
    INSERT INTO jobs (job) SELECT DISTINCT unnest($1::text[]) ON CONFLICT (job) DO NOTHING
)
INSERT INTO tasks (job, key, endpoint, path_params, params, priority, not_before, auth, write, deadline)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::int[],
                     $7::float8[], $8::text[], $9::bool[], $10::float8[])
ON CONFLICT (job, key) DO NOTHING

-- claim_tasks --
-- $1 worker, $2 now, $3 lease_until, $4 limit, $5 owner. First the pending tasks past their
-- deadline (the starvation guard, migration 0006: earliest deadline first, through
-- tasks_deadline); then, for what the limit leaves, due pending tasks and tasks whose lease
-- expired under another owner (a dead process; this store's own claims are live by
-- definition). The CASE is deliberate: only tasks_claim can serve it, so the plan is always a walk
-- of tasks_claim in claim order that stops after the limit, never a bitmap scan plus a sort of
-- every due task. SKIP LOCKED passes over rows another claim is taking right now instead of
-- waiting; a row that changed since the snapshot is re-checked against the WHERE clause.
-- RETURNING does not keep the order, so the caller sorts (deadline is returned last for that).
WITH late AS MATERIALIZED (
    SELECT id FROM tasks
    WHERE state = 'pending' AND deadline IS NOT NULL AND deadline <= $2 AND not_before <= $2
    ORDER BY deadline
    LIMIT $4
    FOR UPDATE SKIP LOCKED
), rest AS MATERIALIZED (
    SELECT id FROM tasks
     WHERE state IN ('pending', 'claimed')
       AND CASE WHEN state = 'pending' THEN not_before <= $2
                ELSE lease_until < $2 AND owner IS DISTINCT FROM $5 END
       AND id NOT IN (SELECT id FROM late)
     ORDER BY priority DESC, id
     LIMIT $4 - (SELECT count(*) FROM late)
     FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM late UNION ALL SELECT id FROM rest
)
UPDATE tasks AS t
SET state = 'claimed', claimed_by = $1, owner = $5, lease_until = $3, claim_token = t.claim_token + 1
FROM picked
WHERE t.id = picked.id
RETURNING t.id, t.job, t.key, t.endpoint, t.path_params::text, t.params::text, t.priority, t.auth,
          t.write, t.cursor, t.pages, t.items, t.attempts, t.last_error, t.claim_token, t.deadline

-- claim_tasks_filtered --
-- As claim_tasks, leaving out closed buckets ($6: "endpoint auth" strings) and, unless $7 is
-- NULL, jobs outside this run.
WITH late AS MATERIALIZED (
    SELECT id FROM tasks
    WHERE state = 'pending' AND deadline IS NOT NULL AND deadline <= $2 AND not_before <= $2
      AND (endpoint || ' ' || auth) <> ALL ($6::text[])
      AND ($7::text[] IS NULL OR job = ANY ($7::text[]))
    ORDER BY deadline
    LIMIT $4
    FOR UPDATE SKIP LOCKED
), rest AS MATERIALIZED (
    SELECT id FROM tasks
     WHERE state IN ('pending', 'claimed')
       AND CASE WHEN state = 'pending' THEN not_before <= $2
                ELSE lease_until < $2 AND owner IS DISTINCT FROM $5 END
       AND (endpoint || ' ' || auth) <> ALL ($6::text[])
       AND ($7::text[] IS NULL OR job = ANY ($7::text[]))
       AND id NOT IN (SELECT id FROM late)
     ORDER BY priority DESC, id
     LIMIT $4 - (SELECT count(*) FROM late)
     FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM late UNION ALL SELECT id FROM rest
)
UPDATE tasks AS t
SET state = 'claimed', claimed_by = $1, owner = $5, lease_until = $3, claim_token = t.claim_token + 1
FROM picked
WHERE t.id = picked.id
RETURNING t.id, t.job, t.key, t.endpoint, t.path_params::text, t.params::text, t.priority, t.auth,
          t.write, t.cursor, t.pages, t.items, t.attempts, t.last_error, t.claim_token, t.deadline

-- commit_page --
-- $1 id, $2 claim token, $3 next cursor, $4 items, $5 output job, $6 output offset,
-- $7..$15 and $33 spawned tasks (as insert_tasks; $33 the deadlines), $16..$24 ledger rows (at, run, job, route, day,
-- micros, reserved, keys, posts), $25 the shared-budget holds the page ends (core/shared.py),
-- $26..$30 cache rows (kind, shape, id, fetched_at, body), $31..$32 kv documents (key, value),
-- each key once. Guarded by state and claim token: a second commit of one claim, or a
-- commit of a claim another host took over, changes nothing and returns 0 (ClaimLost). Everything
-- else hangs off `moved`, so it happens only if the task moved. Output lengths never shrink.
WITH moved AS (
    UPDATE tasks
    SET cursor = $3::text,
        pages = pages + write::int,  -- a task whose pages are not written counts none
        items = items + CASE WHEN write THEN $4 ELSE 0 END,
        attempts = 0,
        state = CASE WHEN $3::text IS NULL THEN 'done' ELSE 'pending' END,
        claimed_by = NULL, owner = NULL, lease_until = NULL
    WHERE id = $1 AND state = 'claimed' AND claim_token = $2
    RETURNING id
), output AS (
    INSERT INTO outputs AS o (job, shard, length)
    SELECT $5::text, pg_backend_pid() % 64, $6::bigint FROM moved WHERE $5::text IS NOT NULL
    ON CONFLICT (job, shard) DO UPDATE SET length = greatest(o.length, excluded.length)
), new_jobs AS (
    INSERT INTO jobs (job) SELECT DISTINCT j FROM moved, unnest($7::text[]) AS j
    ON CONFLICT (job) DO NOTHING
), spawned AS (
    INSERT INTO tasks (job, key, endpoint, path_params, params, priority, not_before, auth, write, deadline)
    SELECT s.* FROM moved, unnest($7::text[], $8::text[], $9::text[], $10::jsonb[], $11::jsonb[],
                                  $12::int[], $13::float8[], $14::text[], $15::bool[], $33::float8[]) AS s
    ON CONFLICT (job, key) DO NOTHING
), charged AS (
    INSERT INTO ledger (at, run, job, route, day, micros, reserved, keys, posts)
    SELECT l.* FROM moved, unnest($16::float8[], $17::text[], $18::text[], $19::text[], $20::text[],
                                  $21::bigint[], $22::bigint[], $23::jsonb[], $24::bigint[]) AS l
), unheld AS (
    DELETE FROM holds WHERE id = ANY ($25::bigint[]) AND EXISTS (SELECT 1 FROM moved)
), cached AS (
    INSERT INTO cache (kind, shape, id, fetched_at, body)
    SELECT c.* FROM moved, unnest($26::text[], $27::text[], $28::text[], $29::float8[], $30::text[]) AS c
    ON CONFLICT (kind, shape, id) DO UPDATE SET fetched_at = excluded.fetched_at, body = excluded.body
), saved AS (
    INSERT INTO kv (key, value)
    SELECT k.key, k.value::jsonb FROM moved, unnest($31::text[], $32::text[]) AS k (key, value)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value
)
SELECT count(*) FROM moved

-- release_task --
-- $1 id, $2 claim token, $3 not_before, $4 error (NULL: not an attempt). Returns 1 or 0.
WITH released AS (
    UPDATE tasks
    SET state = 'pending',
        not_before = $3,
        attempts = attempts + ($4::text IS NOT NULL)::int,
        last_error = coalesce($4::text, last_error),
        claimed_by = NULL, owner = NULL, lease_until = NULL
    WHERE id = $1 AND state = 'claimed' AND claim_token = $2
    RETURNING job
), noted AS (
    UPDATE jobs SET last_error = $4::text
    FROM released WHERE jobs.job = released.job AND $4::text IS NOT NULL
)
SELECT count(*) FROM released

-- finish_task --
-- $1 id, $2 claim token. A claimed task ends without a page: its job reached its item limit.
WITH finished AS (
    UPDATE tasks
    SET state = 'done', claimed_by = NULL, owner = NULL, lease_until = NULL
    WHERE id = $1 AND state = 'claimed' AND claim_token = $2
    RETURNING job
)
SELECT count(*) FROM finished

-- fail_task --
-- $1 id, $2 claim token, $3 error, $4 failure class (core.model.Failure). Returns 1 or 0.
-- 'superseded' is no failure but a state of its own, and leaves the job's last error alone.
WITH failed AS (
    UPDATE tasks
    SET state = CASE WHEN $4::text = 'superseded' THEN 'superseded' ELSE 'failed' END,
        attempts = attempts + ($4::text <> 'superseded')::int,
        last_error = $3,
        failure = $4::text,
        claimed_by = NULL, owner = NULL, lease_until = NULL
    WHERE id = $1 AND state = 'claimed' AND claim_token = $2
    RETURNING job
), noted AS (
    UPDATE jobs SET last_error = $3 FROM failed WHERE jobs.job = failed.job AND $4::text <> 'superseded'
)
SELECT count(*) FROM failed

-- retry_failed --
-- $1 jobs (NULL: all), $2 failure classes (NULL: any), $3 not_before. Failed tasks back to
-- pending: attempts reset, cursor kept. The status is "UPDATE n".
UPDATE tasks
SET state = 'pending', attempts = 0, not_before = $3, failure = NULL
WHERE state = 'failed'
  AND ($2::text[] IS NULL OR failure = ANY ($2::text[]))
  AND ($1::text[] IS NULL OR job = ANY ($1::text[]))

-- retry_waiting --
-- $1 jobs (NULL: all), $2 not_before. Pending tasks waiting out a retry back-off: due again.
UPDATE tasks
SET attempts = 0, not_before = least(not_before, $2)
WHERE state = 'pending' AND attempts > 0
  AND ($1::text[] IS NULL OR job = ANY ($1::text[]))

-- supersede --
-- $1 job, $2 the current generation, $3 the reason. Pending and failed tasks of other
-- generations (a key's `~g<n>` suffix; none is generation 0). Claimed ones are their claimer's.
UPDATE tasks
SET state = 'superseded', failure = 'superseded', last_error = $3,
    claimed_by = NULL, owner = NULL, lease_until = NULL
WHERE job = $1 AND state IN ('pending', 'failed')
  AND coalesce((regexp_match(key, '~g(\d+)$'))[1]::int, 0) <> $2

-- forget --
-- $1 job, $2 kv keys, $3 kv key prefixes. The tasks, the counters and the job row go; outputs
-- and ledger stay. The foreign key (tasks -> jobs) is checked at the end of the statement.
WITH dropped AS (
    DELETE FROM tasks WHERE job = $1 RETURNING 1
), counts AS (
    DELETE FROM job_counts WHERE job = $1
), job AS (
    DELETE FROM jobs WHERE job = $1
), state AS (
    DELETE FROM kv WHERE kv.key = ANY ($2::text[])
                      OR EXISTS (SELECT 1 FROM unnest($3::text[]) AS p WHERE starts_with(kv.key, p))
)
SELECT count(*) FROM dropped

-- generation_stats --
-- Figures per job and generation: a scan of the tasks, for `harvester status --all` only.
SELECT job, generation, count(*), count(*) FILTER (WHERE state = 'pending'),
       count(*) FILTER (WHERE state = 'claimed'), count(*) FILTER (WHERE state = 'done'),
       count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'superseded'),
       coalesce(sum(pages), 0), coalesce(sum(items), 0)
FROM (
    SELECT job, state, pages, items, coalesce((regexp_match(key, '~g(\d+)$'))[1]::int, 0) AS generation
    FROM tasks
) AS t
GROUP BY job, generation
ORDER BY job, generation

-- recover --
-- $1 owner. Only this store instance's claims: other owners' claims are live workers on other
-- hosts (or dead ones, whose leases expire). The status is "UPDATE n".
UPDATE tasks
SET state = 'pending', claimed_by = NULL, owner = NULL, lease_until = NULL
WHERE owner = $1 AND state = 'claimed'

-- unclaim --
-- $1 ids, $2 owner: hand back a claim whose caller was cancelled before it saw the tasks.
UPDATE tasks
SET state = 'pending', claimed_by = NULL, owner = NULL, lease_until = NULL
WHERE id = ANY ($1::bigint[]) AND owner = $2 AND state = 'claimed'

-- output_lengths --
SELECT job, max(length) FROM outputs GROUP BY job ORDER BY job

-- job_stats --
SELECT j.job, coalesce(sum(c.tasks), 0), coalesce(sum(c.pending), 0), coalesce(sum(c.claimed), 0),
       coalesce(sum(c.done), 0), coalesce(sum(c.failed), 0), coalesce(sum(c.pages), 0),
       coalesce(sum(c.items), 0), j.last_error, coalesce(sum(c.superseded), 0)
FROM jobs AS j LEFT JOIN job_counts AS c ON c.job = j.job
GROUP BY j.job, j.last_error
ORDER BY j.job

-- pending_count --
SELECT coalesce(sum(pending + claimed), 0) FROM job_counts

-- pending_count_jobs --
SELECT coalesce(sum(pending + claimed), 0) FROM job_counts WHERE job = ANY ($1::text[])

-- demand --
-- Tasks due ($2: now) or in flight per (endpoint, auth) of the jobs $1: a bucket's queued demand.
SELECT endpoint, auth, count(*) FROM tasks
WHERE (state = 'claimed' OR (state = 'pending' AND not_before <= $2)) AND job = ANY ($1::text[])
GROUP BY endpoint, auth

-- next_due --
SELECT min(not_before) FROM tasks WHERE state = 'pending'

-- next_due_jobs --
SELECT min(not_before) FROM tasks WHERE state = 'pending' AND job = ANY ($1::text[])

-- insert_ledger --
-- $1..$9: parallel arrays, as commit_page's $16..$24; $10: holds these entries end.
WITH unheld AS (
    DELETE FROM holds WHERE id = ANY ($10::bigint[])
)
INSERT INTO ledger (at, run, job, route, day, micros, reserved, keys, posts)
SELECT * FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                     $7::bigint[], $8::jsonb[], $9::bigint[])

-- ledger_since --
SELECT at, run, job, route, day, micros, reserved, keys::text, posts FROM ledger WHERE at >= $1 ORDER BY id

-- get_kv --
SELECT value::text FROM kv WHERE key = $1

-- put_kv --
INSERT INTO kv (key, value) VALUES ($1, $2::jsonb)
ON CONFLICT (key) DO UPDATE SET value = excluded.value

-- cache_put --
INSERT INTO cache (kind, shape, id, fetched_at, body) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (kind, shape, id) DO UPDATE SET fetched_at = excluded.fetched_at, body = excluded.body

-- cache_prune --
-- $1 before: objects fetched before the current UTC day's start can answer no lookup any more.
DELETE FROM cache WHERE fetched_at < $1

-- ledger_compact --
-- $1 before: rows settled before the current UTC day's start keep their money and Post count,
-- not their ids (X dedups charges per UTC day). The row's xid column is not touched, so the
-- shared ledger's readers (pg_shared.py) do not see a compacted row as new.
UPDATE ledger SET keys = '[]'::jsonb WHERE at < $1 AND keys <> '[]'::jsonb

-- cache_get --
SELECT id, body FROM cache
WHERE kind = $1 AND shape = $2 AND fetched_at >= $3 AND id = ANY($4::text[])

-- shared_lock --
-- One admission at a time across every process on this schema (store/pg_shared.py).
SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))

-- ledger_history --
-- Ledger rows at or after $1, and the mark: the oldest transaction still running in the same
-- snapshot (one statement, one snapshot), so every row is either here or at/above the mark.
WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS mark)
SELECT snap.mark, l.id, l.xid::text::bigint AS xid, l.at, l.run, l.job, l.route, l.day, l.micros,
       l.reserved, l.keys::text AS keys, l.posts
FROM snap LEFT JOIN ledger AS l ON l.at >= $1
ORDER BY l.id

-- shared_view --
-- In one snapshot: the new mark, the other owners' holds, and the ledger rows of transactions at
-- or after the old mark $1 written by other runs than $2. One snapshot matters: a page commit
-- (outside the lock) deletes its hold and adds its row at once, so reading the two at different
-- moments could miss both.
WITH snap AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS mark),
held AS (
    SELECT coalesce(sum(micros), 0)::bigint AS micros, coalesce(sum(posts), 0)::bigint AS posts
    FROM holds WHERE owner <> $3
)
SELECT snap.mark, held.micros AS held_micros, held.posts AS held_posts, l.id,
       l.xid::text::bigint AS xid, l.at, l.run, l.job, l.route, l.day, l.micros, l.reserved,
       l.keys::text AS keys, l.posts
FROM snap CROSS JOIN held
LEFT JOIN ledger AS l ON $1::bigint IS NOT NULL AND l.xid >= $1::bigint::text::xid8 AND l.run <> $2
ORDER BY l.id

-- holds_expire --
DELETE FROM holds WHERE expires <= $1 RETURNING run, job, route, micros, posts, at, expires

-- hold_insert --
INSERT INTO holds (owner, run, job, route, micros, posts, at, expires)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id

-- grants_expire --
DELETE FROM grants WHERE bucket = $1 AND at <= $2

-- grants_live --
-- The newest $3 (the limit) live grants: all that core.shared.grant_release needs.
SELECT at FROM grants WHERE bucket = $1 AND at > $2 ORDER BY at DESC LIMIT $3

-- grant_insert --
INSERT INTO grants (bucket, at) VALUES ($1, $2)

-- activity --
-- Per store instance: claims (and how many have outlived their lease, $1 = now) and holds.
SELECT owner, sum(claims)::bigint, sum(expired)::bigint, sum(holds)::bigint, sum(micros)::bigint
FROM (
    SELECT owner, count(*) AS claims, count(*) FILTER (WHERE lease_until < $1) AS expired,
           0 AS holds, 0 AS micros
    FROM tasks WHERE state = 'claimed' AND owner IS NOT NULL GROUP BY owner
    UNION ALL
    SELECT owner, 0, 0, count(*), sum(micros) FROM holds GROUP BY owner
) AS a
GROUP BY owner ORDER BY owner

-- commit_stream --
-- $1, $2 output jobs and lengths; $3..$12 spawned tasks (as insert_tasks); $13..$21 ledger rows
-- (as insert_ledger); $22, $23 kv documents. Streamed Posts: no task moves, everything at once.
WITH output AS (
    INSERT INTO outputs AS o (job, shard, length)
    SELECT x.j, pg_backend_pid() % 64, x.l FROM unnest($1::text[], $2::bigint[]) AS x (j, l)
    ON CONFLICT (job, shard) DO UPDATE SET length = greatest(o.length, excluded.length)
), new_jobs AS (
    INSERT INTO jobs (job) SELECT DISTINCT j FROM unnest($3::text[]) AS j
    ON CONFLICT (job) DO NOTHING
), spawned AS (
    INSERT INTO tasks (job, key, endpoint, path_params, params, priority, not_before, auth, write, deadline)
    SELECT s.* FROM unnest($3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[],
                           $8::int[], $9::float8[], $10::text[], $11::bool[], $12::float8[]) AS s
    ON CONFLICT (job, key) DO NOTHING
), charged AS (
    INSERT INTO ledger (at, run, job, route, day, micros, reserved, keys, posts)
    SELECT l.* FROM unnest($13::float8[], $14::text[], $15::text[], $16::text[], $17::text[],
                           $18::bigint[], $19::bigint[], $20::jsonb[], $21::bigint[]) AS l
), saved AS (
    INSERT INTO kv (key, value)
    SELECT k.key, k.value::jsonb FROM unnest($22::text[], $23::text[]) AS k (key, value)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value
)
SELECT 1
