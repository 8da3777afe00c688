-- name: AgentCreate :one
INSERT INTO agents.agents (id, name, type, description, capabilities, config)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: AgentGet :one
SELECT * FROM agents.agents WHERE id = $1;

-- name: AgentCount :one
SELECT count(*) FROM agents.agents;

-- name: AgentList :many
SELECT * FROM agents.agents
WHERE (sqlc.narg(type)::text IS NULL OR type = sqlc.narg(type))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(cursor_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(cursor_created_at)::timestamptz, sqlc.narg(cursor_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- AgentUpdate changes what is given (NULL keeps the current value) in one
-- statement, so a rename and a status change land together or not at all.
-- status 'paused' stops the agent from taking new tasks (a task it runs
-- finishes); 'active' makes a paused (or failed) agent available again,
-- busy if it still runs a task, and leaves any other agent as it is.
-- name: AgentUpdate :one
UPDATE agents.agents
SET name = coalesce(sqlc.narg(name), name),
    description = coalesce(sqlc.narg(description), description),
    config = coalesce(sqlc.narg(config), config),
    status = CASE
        WHEN sqlc.narg(status)::text = 'paused' THEN 'paused'
        WHEN sqlc.narg(status)::text = 'active' AND status IN ('paused', 'error')
            THEN CASE WHEN current_task_id IS NULL THEN 'idle' ELSE 'busy' END
        ELSE status
    END,
    updated_at = now()
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: AgentDelete :execrows
DELETE FROM agents.agents WHERE id = $1 AND current_task_id IS NULL;

-- AgentClaim atomically gives a task to the best free agent: its type is the
-- task's domain, or it has every capability the task needs; same-domain
-- agents first, then the least loaded. SKIP LOCKED lets concurrent workers
-- claim different agents instead of waiting on each other.
-- name: AgentClaim :one
UPDATE agents.agents AS a
SET status = 'busy', current_task_id = sqlc.arg(task_id), last_activity = now(), updated_at = now()
WHERE a.id = (
    SELECT c.id FROM agents.agents AS c
    WHERE c.status = 'idle'
      AND (c.type = sqlc.arg(domain) OR c.capabilities @> sqlc.arg(required)::text[])
    ORDER BY (c.type = sqlc.arg(domain)) DESC, c.tasks_completed + c.tasks_failed, c.last_activity NULLS FIRST, c.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING a.*;

-- AgentRelease frees an agent after a task and counts the outcome.
-- name: AgentRelease :one
UPDATE agents.agents
SET status = CASE WHEN status = 'busy' THEN 'idle' ELSE status END,
    current_task_id = NULL,
    tasks_completed = tasks_completed + sqlc.arg(completed)::int,
    tasks_failed = tasks_failed + sqlc.arg(failed)::int,
    last_activity = now(), updated_at = now()
WHERE id = sqlc.arg(id) AND current_task_id = sqlc.arg(task_id)
RETURNING *;

-- name: AgentCountByStatus :many
SELECT status, count(*) AS n FROM agents.agents GROUP BY status;

-- AgentReleaseTask frees whichever agent holds task (after a crash), without
-- counting an outcome.
-- name: AgentReleaseTask :many
UPDATE agents.agents
SET status = CASE WHEN status = 'busy' THEN 'idle' ELSE status END, current_task_id = NULL, updated_at = now()
WHERE current_task_id = $1
RETURNING *;

-- AgentClaimAssigned claims the agent a task was assigned to (a delegated
-- sub-task goes to the agent the request message named), if it is free.
-- name: AgentClaimAssigned :one
UPDATE agents.agents
SET status = 'busy', current_task_id = sqlc.arg(task_id), last_activity = now(), updated_at = now()
WHERE id = sqlc.arg(agent_id) AND status = 'idle'
RETURNING *;

-- AgentPickForDomain chooses who receives a delegated request: an agent of
-- the domain that is not paused and not the sender, least loaded first.
-- name: AgentPickForDomain :one
SELECT * FROM agents.agents
WHERE type = $1 AND status IN ('idle', 'busy') AND id <> $2
ORDER BY (status = 'idle') DESC, tasks_completed + tasks_failed, id
LIMIT 1;

-- AgentReleaseOrphans frees agents left busy with a task that is no longer
-- running (a release lost to a database outage). A claim and its task's
-- start are one transaction, so a busy agent's task is always processing.
-- name: AgentReleaseOrphans :many
UPDATE agents.agents AS a
SET status = CASE WHEN a.status = 'busy' THEN 'idle' ELSE a.status END, current_task_id = NULL, updated_at = now()
WHERE a.current_task_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM agents.tasks t WHERE t.id = a.current_task_id AND t.status = 'processing')
RETURNING a.*;
