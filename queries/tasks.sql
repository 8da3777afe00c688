-- TaskCreate stores a task; one created for a given agent (a delegated
-- sub-task) starts as assigned to it.
-- name: TaskCreate :one
INSERT INTO agents.tasks (id, title, description, domain, priority, input_data, parent_task_id, timeout_seconds, max_attempts,
                          agent_id, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, sqlc.narg(agent_id)::uuid,
        CASE WHEN sqlc.narg(agent_id)::uuid IS NULL THEN 'pending' ELSE 'assigned' END)
RETURNING *;

-- name: TaskSetJob :exec
UPDATE agents.tasks SET job_id = $2 WHERE id = $1;

-- name: TaskGet :one
SELECT * FROM agents.tasks WHERE id = $1;

-- name: TaskList :many
SELECT * FROM agents.tasks
WHERE (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(domain)::text IS NULL OR domain = sqlc.narg(domain))
  AND (sqlc.narg(priority)::text IS NULL OR priority = sqlc.narg(priority))
  AND (sqlc.narg(agent_id)::uuid IS NULL OR agent_id = sqlc.narg(agent_id))
  AND (sqlc.narg(parent_task_id)::uuid IS NULL OR parent_task_id = sqlc.narg(parent_task_id))
  AND (sqlc.narg(cursor_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(cursor_created_at)::timestamptz, sqlc.narg(cursor_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- TaskStart moves a task to processing on an agent, counting the attempt.
-- Only a pending or assigned task starts: a cancelled one stays cancelled.
-- name: TaskStart :one
UPDATE agents.tasks
SET status = 'processing', agent_id = sqlc.arg(agent_id), started_at = coalesce(started_at, now()),
    attempts = attempts + 1, error_message = NULL, progress = 0
WHERE id = sqlc.arg(id) AND status IN ('pending', 'assigned')
RETURNING *;

-- name: TaskProgress :exec
UPDATE agents.tasks SET progress = greatest(progress, sqlc.arg(progress)::smallint)
WHERE id = sqlc.arg(id) AND status = 'processing';

-- name: TaskAddUsage :exec
UPDATE agents.tasks SET tokens_used = tokens_used + sqlc.arg(tokens)::bigint, cost = cost + sqlc.arg(cost)::numeric
WHERE id = sqlc.arg(id);

-- name: TaskComplete :one
UPDATE agents.tasks
SET status = 'completed', output_data = $2, progress = 100, completed_at = now()
WHERE id = $1 AND status = 'processing'
RETURNING *;

-- name: TaskFail :one
UPDATE agents.tasks
SET status = 'failed', error_message = $2, completed_at = now()
WHERE id = $1 AND status IN ('pending', 'assigned', 'processing')
RETURNING *;

-- TaskRequeue puts a task whose attempt failed back in line for the next.
-- TaskRequeue puts a task whose attempt failed back in line for the next;
-- a task assigned to an agent stays assigned to it.
-- name: TaskRequeue :one
UPDATE agents.tasks
SET status = CASE WHEN parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    error_message = $2, agent_id = CASE WHEN parent_task_id IS NULL THEN NULL ELSE agent_id END
WHERE id = $1 AND status = 'processing'
RETURNING *;

-- name: TaskCancel :one
UPDATE agents.tasks
SET status = 'cancelled', completed_at = now(), error_message = coalesce(error_message, 'cancelled')
WHERE id = $1 AND status IN ('pending', 'assigned', 'processing')
RETURNING *;

-- TaskRetry makes a failed or cancelled task pending again, from scratch.
-- name: TaskRetry :one
UPDATE agents.tasks
SET status = CASE WHEN parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    error_message = NULL, output_data = NULL, progress = 0, completed_at = NULL, started_at = NULL,
    agent_id = CASE WHEN parent_task_id IS NULL THEN NULL ELSE agent_id END, attempts = 0, job_id = NULL
WHERE id = $1 AND status IN ('failed', 'cancelled')
RETURNING *;

-- name: TaskCountByStatus :many
SELECT status, count(*) AS n FROM agents.tasks GROUP BY status;

-- name: TaskEventCreate :one
INSERT INTO agents.task_events (task_id, type, message, data)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: TaskEventList :many
SELECT * FROM agents.task_events WHERE task_id = $1 ORDER BY id;

-- TaskAverageDuration is the mean run time of the domain's last 50
-- completed tasks, for estimates; 0 when there are none.
-- name: TaskAverageDuration :one
SELECT coalesce(avg(extract(epoch FROM completed_at - started_at)), 0)::float8 AS seconds
FROM (SELECT completed_at, started_at FROM agents.tasks
      WHERE domain = $1 AND status = 'completed' AND started_at IS NOT NULL
      ORDER BY completed_at DESC LIMIT 50) AS recent;

-- TaskRecoverInterrupted requeues a task left processing by an instance
-- that died mid-run.
-- name: TaskRecoverInterrupted :one
UPDATE agents.tasks
SET status = CASE WHEN parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    agent_id = CASE WHEN parent_task_id IS NULL THEN NULL ELSE agent_id END,
    error_message = 'the previous attempt was interrupted (server stopped or crashed)'
WHERE id = $1 AND status = 'processing'
RETURNING *;