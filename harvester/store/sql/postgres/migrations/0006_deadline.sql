-- The starvation guard of polled sources (issue 19). tasks.deadline: the time by which the task
-- must be claimed (a poll's last poll + max_interval), NULL for tasks without one. A claim takes
-- the pending tasks past their deadline first, earliest deadline first, and only then the rest
-- in priority order: under a backlog a quiet source (low priority) still goes within its bound.
ALTER TABLE tasks ADD COLUMN deadline float8;
CREATE INDEX tasks_deadline ON tasks (deadline) WHERE state = 'pending' AND deadline IS NOT NULL;
