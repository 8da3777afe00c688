-- Crash recovery in seconds: a running task's worker writes heartbeat_at
-- every few seconds, and a live instance takes over a task whose heartbeat
-- stopped. lease is the fence: it grows by one each time a worker starts
-- the task or another takes it over, and every write a worker makes about
-- its run (progress, outcome, tool steps) must name the lease it holds, so
-- a slow worker whose task was taken over cannot finish it a second time.

-- +goose Up
ALTER TABLE agents.tasks
    ADD COLUMN lease        bigint NOT NULL DEFAULT 0,
    ADD COLUMN heartbeat_at timestamptz;
-- The takeover sweep looks for running tasks whose heartbeat is old.
CREATE INDEX tasks_processing_heartbeat_idx ON agents.tasks (heartbeat_at) WHERE status = 'processing';
-- The sweep for tasks whose River job ended without them finds them by job.
CREATE INDEX tasks_open_job_idx ON agents.tasks (job_id) WHERE status IN ('pending', 'assigned', 'processing');

-- +goose Down
DROP INDEX agents.tasks_open_job_idx;
DROP INDEX agents.tasks_processing_heartbeat_idx;
ALTER TABLE agents.tasks DROP COLUMN lease, DROP COLUMN heartbeat_at;
