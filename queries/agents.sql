-- name: AgentCreate :one
INSERT INTO agents.agents (id, name, type, description, capabilities, config, max_concurrency)
VALUES ($1, $2, $3, $4, $5, $6, $7)
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
-- status 'paused' stops the agent from taking new tasks (the tasks it runs
-- finish); 'active' makes a paused (or failed) agent available again,
-- busy if it still runs a task, and leaves any other agent as it is.
-- name: AgentUpdate :one
UPDATE agents.agents
SET name = coalesce(sqlc.narg(name), name),
    description = coalesce(sqlc.narg(description), description),
    config = coalesce(sqlc.narg(config), config),
    max_concurrency = coalesce(sqlc.narg(max_concurrency), max_concurrency),
    status = CASE
        WHEN sqlc.narg(status)::text = 'paused' THEN 'paused'
        WHEN sqlc.narg(status)::text = 'active' AND status IN ('paused', 'error')
            THEN CASE WHEN running = 0 THEN 'idle' ELSE 'busy' END
        ELSE status
    END,
    updated_at = now()
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: AgentDelete :execrows
DELETE FROM agents.agents WHERE id = $1 AND running = 0;

-- AgentClaim locks the best agent with a free slot for a task: its type is
-- the task's domain, or it has every capability the task needs; same-domain
-- agents first, then the least loaded. The slot is counted when the task
-- starts in the same transaction (the tasks_agent_slots trigger); the lock,
-- held until then, keeps a concurrent claim from taking the same slot. SKIP
-- LOCKED spreads concurrent claims over the agents; a claim that skipped
-- the only free agent finds it again through TaskPark, which waits.
-- name: AgentClaim :one
SELECT * FROM agents.agents AS c
WHERE c.status IN ('idle', 'busy') AND c.running < c.max_concurrency
  AND (c.type = sqlc.arg(domain) OR c.capabilities @> sqlc.arg(required)::text[])
ORDER BY (c.type = sqlc.arg(domain)) DESC, c.running, c.tasks_completed + c.tasks_failed, c.last_activity NULLS FIRST, c.id
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: AgentCountByStatus :many
SELECT status, count(*) AS n FROM agents.agents GROUP BY status;

-- AgentClaimAssigned locks the agent a task was assigned to (a delegated
-- sub-task goes to the agent the request message named) if it has a free
-- slot, waiting for a concurrent claim of it to end.
-- name: AgentClaimAssigned :one
SELECT * FROM agents.agents
WHERE id = sqlc.arg(agent_id) AND status IN ('idle', 'busy') AND running < max_concurrency
FOR UPDATE;

-- AgentPickForDomain chooses who receives a delegated request: an agent of
-- the domain that is not paused and not the sender, least loaded first.
-- name: AgentPickForDomain :one
SELECT * FROM agents.agents
WHERE type = $1 AND status IN ('idle', 'busy') AND id <> $2
ORDER BY running::float8 / max_concurrency, tasks_completed + tasks_failed, id
LIMIT 1;

-- AgentFreeSlots is how many more tasks the active agents can start now.
-- name: AgentFreeSlots :one
SELECT coalesce(sum(max_concurrency - running), 0)::bigint AS slots
FROM agents.agents
WHERE status IN ('idle', 'busy') AND running < max_concurrency;
