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

-- TaskList pages tasks newest first, each filter optional; created_from
-- is inclusive and created_before exclusive. Every filter alone is served
-- by an index in created order (docs/query-plans.md).
-- name: TaskList :many
SELECT * FROM agents.tasks
WHERE (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(domain)::text IS NULL OR domain = sqlc.narg(domain))
  AND (sqlc.narg(priority)::text IS NULL OR priority = sqlc.narg(priority))
  AND (sqlc.narg(agent_id)::uuid IS NULL OR agent_id = sqlc.narg(agent_id))
  AND (sqlc.narg(parent_task_id)::uuid IS NULL OR parent_task_id = sqlc.narg(parent_task_id))
  AND (sqlc.narg(created_from)::timestamptz IS NULL OR created_at >= sqlc.narg(created_from)::timestamptz)
  AND (sqlc.narg(created_before)::timestamptz IS NULL OR created_at < sqlc.narg(created_before)::timestamptz)
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
SET status = 'cancelled', completed_at = now(), error_message = coalesce(error_message, 'cancelled'), parked_at = NULL,
    parts_deadline = NULL
WHERE id = $1 AND status IN ('pending', 'assigned', 'processing')
RETURNING *;

-- TaskRetry makes a failed or cancelled task pending again, from scratch.
-- name: TaskRetry :one
UPDATE agents.tasks
SET status = CASE WHEN parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    error_message = NULL, output_data = NULL, progress = 0, completed_at = NULL, started_at = NULL,
    agent_id = CASE WHEN parent_task_id IS NULL THEN NULL ELSE agent_id END, attempts = 0, job_id = NULL, parts_deadline = NULL
WHERE id = $1 AND status IN ('failed', 'cancelled')
RETURNING *;

-- TaskRetryParts makes a retried task's failed or cancelled delegated parts
-- pending again too (each stays assigned to the agent it was sent to), so
-- the retried task waits for them rather than reporting them unavailable.
-- name: TaskRetryParts :many
UPDATE agents.tasks
SET status = 'assigned', error_message = NULL, output_data = NULL, progress = 0, completed_at = NULL, started_at = NULL,
    attempts = 0, job_id = NULL, parts_deadline = NULL
WHERE parent_task_id = sqlc.arg(parent_id) AND status IN ('failed', 'cancelled')
RETURNING *;

-- TaskCountByStatus reads the maintained counts (migration 00007): the
-- folded count of each status plus its deltas not folded yet.
-- name: TaskCountByStatus :many
SELECT status, sum(n)::bigint AS n
FROM (SELECT status, n FROM agents.task_counts UNION ALL SELECT status, n FROM agents.task_count_deltas) AS c
GROUP BY status;

-- name: TaskEventCreate :one
INSERT INTO agents.task_events (task_id, type, message, data)
VALUES ($1, $2, $3, $4)
RETURNING *;

-- name: TaskEventList :many
SELECT * FROM agents.task_events WHERE task_id = $1 ORDER BY id;

-- TaskAverageDuration is the run time estimate of the domain's tasks, a
-- weighted mean of about its last 50 completed tasks maintained by
-- migration 00007's triggers (as of the last fold, a few seconds old at
-- most); 0 when none completed.
-- name: TaskAverageDuration :one
SELECT coalesce((SELECT d.ewma / (1 - power(0.96::float8, least(d.samples, 1000)))
                 FROM agents.task_durations AS d WHERE d.domain = $1 AND d.samples > 0), 0)::float8 AS seconds;

-- TaskRecoverInterrupted requeues a task left processing by an instance
-- that died mid-run.
-- name: TaskRecoverInterrupted :one
UPDATE agents.tasks
SET status = CASE WHEN parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    agent_id = CASE WHEN parent_task_id IS NULL THEN NULL ELSE agent_id END,
    error_message = 'the previous attempt was interrupted (server stopped or crashed)'
WHERE id = $1 AND status = 'processing'
RETURNING *;

-- Leases and heartbeats (crash recovery in seconds). Every write a worker
-- makes about its run names the lease it holds: the write matches no row
-- once the task was taken over, so a slow worker cannot finish it twice.

-- TaskStartLeased moves a pending or assigned task to processing on an
-- agent, counting the attempt and taking a new lease, with a first heartbeat.
-- Only the task's current job starts it: a job superseded by a takeover
-- cannot.
-- name: TaskStartLeased :one
UPDATE agents.tasks
SET status = 'processing', agent_id = sqlc.arg(agent_id), started_at = coalesce(started_at, now()),
    attempts = attempts + 1, error_message = NULL, progress = 0, lease = lease + 1, heartbeat_at = now(), parked_at = NULL,
    parts_deadline = NULL
WHERE id = sqlc.arg(id) AND status IN ('pending', 'assigned') AND job_id = sqlc.arg(job_id)
RETURNING *;

-- TaskHeartbeat records that the workers holding these leases are alive and
-- returns the tasks whose lease is still held; a task missing from the
-- answer was taken over, cancelled or finished.
-- name: TaskHeartbeat :many
UPDATE agents.tasks AS t SET heartbeat_at = now()
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id, unnest(sqlc.arg(leases)::bigint[]) AS lease) AS h
WHERE t.id = h.id AND t.lease = h.lease AND t.status = 'processing'
RETURNING t.id;

-- TaskLeaseHeld reports whether the lease is still the task's and the task
-- still running: a worker checks it before each tool step.
-- name: TaskLeaseHeld :one
SELECT EXISTS (SELECT 1 FROM agents.tasks WHERE id = sqlc.arg(id) AND lease = sqlc.arg(lease) AND status = 'processing') AS held;

-- name: TaskProgressLeased :exec
UPDATE agents.tasks SET progress = greatest(progress, sqlc.arg(progress)::smallint)
WHERE id = sqlc.arg(id) AND lease = sqlc.arg(lease) AND status = 'processing';

-- name: TaskCompleteLeased :one
UPDATE agents.tasks
SET status = 'completed', output_data = sqlc.arg(output_data), progress = 100, completed_at = now(), heartbeat_at = NULL
WHERE id = sqlc.arg(id) AND lease = sqlc.arg(lease) AND status = 'processing'
RETURNING *;

-- name: TaskFailLeased :one
UPDATE agents.tasks
SET status = 'failed', error_message = sqlc.arg(error_message), completed_at = now(), heartbeat_at = NULL
WHERE id = sqlc.arg(id) AND lease = sqlc.arg(lease) AND status = 'processing'
RETURNING *;

-- TaskRequeueLeased puts a task whose attempt failed (or whose server is
-- stopping) back in line; a task assigned to an agent stays assigned to it.
-- name: TaskRequeueLeased :one
UPDATE agents.tasks
SET status = CASE WHEN parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    error_message = sqlc.arg(error_message), heartbeat_at = NULL,
    agent_id = CASE WHEN parent_task_id IS NULL THEN NULL ELSE agent_id END
WHERE id = sqlc.arg(id) AND lease = sqlc.arg(lease) AND status = 'processing'
RETURNING *;

-- TaskRecoverLeased requeues a task its own job finds still processing (the
-- previous attempt of the job died, or could not write its outcome), taking
-- the lease from that attempt in case it is in fact still alive.
-- It returns the agent the attempt held (freed by the trigger), to be
-- announced.
-- name: TaskRecoverLeased :one
UPDATE agents.tasks AS t
SET status = CASE WHEN t.parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    agent_id = CASE WHEN t.parent_task_id IS NULL THEN NULL ELSE t.agent_id END,
    lease = t.lease + 1, heartbeat_at = NULL,
    error_message = 'the previous attempt was interrupted (server stopped or crashed)'
FROM (SELECT s.id, s.agent_id FROM agents.tasks AS s
      WHERE s.id = sqlc.arg(id) AND s.status = 'processing' AND s.parts_deadline IS NULL
      FOR UPDATE) AS o
WHERE t.id = o.id
RETURNING sqlc.embed(t), o.agent_id AS held_agent_id;

-- TaskTakeOverStale takes the lease of running tasks whose heartbeat is
-- older than stale_seconds (their worker died or lost the database) and puts
-- them back in line, oldest heartbeat first. SKIP LOCKED lets every instance
-- sweep at once without two taking the same task. Tasks without a
-- heartbeat (started by a version that did not beat) are left to River's
-- rescuer, and so is a task waiting for its delegated parts (no worker holds
-- it). It returns each task with the agent it held (freed by the trigger),
-- to be announced.
-- name: TaskTakeOverStale :many
UPDATE agents.tasks AS t
SET status = CASE WHEN t.parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    agent_id = CASE WHEN t.parent_task_id IS NULL THEN NULL ELSE t.agent_id END,
    lease = t.lease + 1, heartbeat_at = NULL, error_message = sqlc.arg(reason)
FROM (
    SELECT s.id, s.agent_id FROM agents.tasks AS s
    WHERE s.status = 'processing' AND s.parts_deadline IS NULL
      AND s.heartbeat_at < now() - make_interval(secs => sqlc.arg(stale_seconds)::float8)
    ORDER BY s.heartbeat_at
    LIMIT sqlc.arg(max_rows)
    FOR UPDATE SKIP LOCKED
) AS o
WHERE t.id = o.id
RETURNING sqlc.embed(t), o.agent_id AS held_agent_id;

-- TaskListOpenByJobs returns the unfinished tasks whose current job is one
-- of these (River says they ended), for the sweep of orphaned tasks.
-- name: TaskListOpenByJobs :many
SELECT * FROM agents.tasks
WHERE job_id = ANY(sqlc.arg(job_ids)::bigint[]) AND status IN ('pending', 'assigned', 'processing');

-- TaskLockOpen locks an unfinished task whose current job is job_id, so the
-- sweep and a worker never both act on it.
-- name: TaskLockOpen :one
SELECT * FROM agents.tasks
WHERE id = sqlc.arg(id) AND job_id = sqlc.arg(job_id) AND status IN ('pending', 'assigned', 'processing')
FOR UPDATE SKIP LOCKED;

-- TaskOrphanRequeue puts an orphaned task back in line under a new lease.
-- name: TaskOrphanRequeue :one
UPDATE agents.tasks
SET status = CASE WHEN parent_task_id IS NULL THEN 'pending' ELSE 'assigned' END,
    agent_id = CASE WHEN parent_task_id IS NULL THEN NULL ELSE agent_id END,
    lease = lease + 1, heartbeat_at = NULL, error_message = sqlc.arg(reason)
WHERE id = sqlc.arg(id) AND status IN ('pending', 'assigned', 'processing')
RETURNING *;

-- TaskFailOpen fails an unfinished task that cannot run again, taking its
-- lease.
-- name: TaskFailOpen :one
UPDATE agents.tasks
SET status = 'failed', error_message = sqlc.arg(error_message), completed_at = now(), lease = lease + 1, heartbeat_at = NULL,
    parts_deadline = NULL
WHERE id = sqlc.arg(id) AND status IN ('pending', 'assigned', 'processing')
RETURNING *;

-- ToolExecutionFindReusable finds a successful run of a pure tool with the
-- same arguments that an earlier attempt of this task recorded, not already
-- reused by this attempt: a task taken over after a crash resumes its
-- deterministic plan instead of running (and recording) its steps twice.
-- A step of a task's fixed plan matches by tool alone (parameters NULL): its
-- arguments may name the agent, and the attempt that resumes may run on
-- another agent of the domain. The run's summary is not a column of the
-- execution: it comes from the step's timeline entry.
-- name: ToolExecutionFindReusable :one
SELECT sqlc.embed(e), coalesce((SELECT ev.data->>'summary' FROM agents.task_events AS ev
                                WHERE ev.task_id = e.task_id AND ev.type = 'tool_call'
                                  AND ev.data->>'execution_id' = e.id::text
                                ORDER BY ev.id LIMIT 1), '')::text AS summary
FROM mcp.tool_executions AS e
WHERE e.task_id = sqlc.arg(task_id) AND e.tool_name = sqlc.arg(tool_name) AND e.error IS NULL
  AND (sqlc.narg(parameters)::jsonb IS NULL OR e.parameters = sqlc.narg(parameters)::jsonb)
  AND NOT (e.id = ANY(sqlc.arg(used)::uuid[]))
ORDER BY e.created_at, e.id
LIMIT 1;

-- ToolExecutionCreateLeased records a task's tool step only while the task
-- is still running under the worker's lease. The share lock orders it with a
-- takeover: either the step is recorded before the lease moves (and the new
-- worker reuses it) or it is refused.
-- name: ToolExecutionCreateLeased :one
INSERT INTO mcp.tool_executions (id, tool_name, agent_id, task_id, api_key_id, source, parameters, result, error,
                                 execution_time_ms, tokens_used, cost, created_at)
SELECT sqlc.arg(id), sqlc.arg(tool_name), sqlc.narg(agent_id)::uuid, sqlc.arg(task_id)::uuid, sqlc.narg(api_key_id)::uuid,
       sqlc.arg(source), sqlc.arg(parameters)::jsonb, sqlc.narg(result)::jsonb, sqlc.narg(error)::text,
       sqlc.arg(execution_time_ms)::integer, sqlc.arg(tokens_used)::bigint, sqlc.arg(cost)::numeric, sqlc.arg(created_at)::timestamptz
WHERE EXISTS (SELECT 1 FROM agents.tasks AS t
              WHERE t.id = sqlc.arg(task_id)::uuid AND t.lease = sqlc.arg(lease)::bigint AND t.status = 'processing'
              FOR SHARE)
RETURNING *;

-- Waiting for an agent without polling. A task no agent can take now is
-- parked (parked_at set, its River job snoozed: it holds no worker), and
-- whoever frees a matching agent starts it: the worker that finishes a task
-- adopts the next parked one for the same agent in the transaction that
-- frees it (TaskAdoptNext), and anything else that frees or adds capacity
-- (a cancel, a takeover, a new or resumed agent) gives parked tasks a new
-- job that is available at once (TaskParkedWakeable, TaskUnpark).

-- TaskGetOpenByJob is the unfinished task a job runs: its own task, or one
-- its worker adopted when its agent freed.
-- name: TaskGetOpenByJob :one
SELECT * FROM agents.tasks
WHERE job_id = sqlc.arg(job_id) AND status IN ('pending', 'assigned', 'processing')
LIMIT 1;

-- TaskPark sets a task aside until an agent frees, unless an agent that
-- could take it has a free slot now. The candidate agents are locked FOR
-- SHARE: a release of one either committed before (the task is not parked
-- and its worker claims again) or waits for this transaction and then finds
-- the task parked (and starts it). No wake-up is lost between the two.
-- name: TaskPark :one
UPDATE agents.tasks AS t SET parked_at = now()
WHERE t.id = sqlc.arg(id) AND t.job_id = sqlc.arg(job_id) AND t.status IN ('pending', 'assigned')
  AND NOT EXISTS (
      SELECT 1 FROM (SELECT a.status, a.running, a.max_concurrency FROM agents.agents AS a
                     WHERE CASE WHEN sqlc.narg(agent_id)::uuid IS NOT NULL THEN a.id = sqlc.narg(agent_id)::uuid
                                ELSE a.type = sqlc.arg(domain)::text OR a.capabilities @> sqlc.arg(required)::text[] END
                     FOR SHARE) AS c
      WHERE c.status IN ('idle', 'busy') AND c.running < c.max_concurrency)
RETURNING t.parked_at;

-- TaskAdoptNext starts, on an agent that has just finished a task (in that
-- transaction), the most urgent parked task assigned to the agent or of its
-- domain, as the finishing worker's job: the agent goes on without a gap.
-- It returns the task, the job it was parked with (to be cancelled) and its
-- status then (assigned: a request message waits for delivery). The
-- agent must be active with a free slot (its finished task is already
-- counted out by the trigger).
-- name: TaskAdoptNext :one
WITH cand AS (
    (SELECT p.id, (CASE p.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END) AS rank, p.parked_at
     FROM agents.tasks AS p
     WHERE p.parked_at IS NOT NULL AND p.status = 'pending' AND p.domain = sqlc.arg(domain)::text
     ORDER BY (CASE p.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END), p.parked_at
     LIMIT 8)
    UNION ALL
    (SELECT p.id, (CASE p.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END) AS rank, p.parked_at
     FROM agents.tasks AS p
     WHERE p.parked_at IS NOT NULL AND p.status = 'assigned' AND p.agent_id = sqlc.arg(agent_id)::uuid
     ORDER BY (CASE p.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END), p.parked_at
     LIMIT 8)
), next AS (
    SELECT w.id, w.job_id AS parked_job_id, w.status AS parked_status
    FROM agents.tasks AS w JOIN cand ON cand.id = w.id
    WHERE w.parked_at IS NOT NULL AND w.status IN ('pending', 'assigned')
      AND EXISTS (SELECT 1 FROM agents.agents AS a
                  WHERE a.id = sqlc.arg(agent_id)::uuid AND a.status IN ('idle', 'busy') AND a.running < a.max_concurrency)
    ORDER BY cand.rank, cand.parked_at
    LIMIT 1
    FOR UPDATE OF w SKIP LOCKED
)
UPDATE agents.tasks AS t
SET status = 'processing', agent_id = sqlc.arg(agent_id)::uuid, job_id = sqlc.arg(job_id)::bigint,
    started_at = coalesce(t.started_at, now()), attempts = t.attempts + 1, error_message = NULL, progress = 0,
    lease = t.lease + 1, heartbeat_at = now(), parked_at = NULL, parts_deadline = NULL
FROM next
WHERE t.id = next.id
RETURNING t.*, next.parked_job_id, next.parked_status;

-- TaskParkedWakeable locks parked tasks that an active agent with a free
-- slot could take now, most urgent first. A pending task's agent is one of
-- its domain or with the tool its domain's plan needs (domains[i] needs
-- tools[i]).
-- name: TaskParkedWakeable :many
SELECT t.* FROM agents.tasks AS t
WHERE t.parked_at IS NOT NULL AND t.status IN ('pending', 'assigned')
  AND EXISTS (
      SELECT 1 FROM agents.agents AS a
      WHERE a.status IN ('idle', 'busy') AND a.running < a.max_concurrency
        AND CASE WHEN t.status = 'assigned' THEN a.id = t.agent_id
                 ELSE a.type = t.domain
                      OR a.capabilities @> ARRAY[(sqlc.arg(tools)::text[])[array_position(sqlc.arg(domains)::text[], t.domain)]] END)
ORDER BY (CASE t.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END), t.parked_at
LIMIT sqlc.arg(max_rows)
FOR UPDATE OF t SKIP LOCKED;

-- TaskUnpark gives a parked task the new job that wakes it.
-- name: TaskUnpark :exec
UPDATE agents.tasks SET parked_at = NULL, job_id = sqlc.arg(job_id)
WHERE id = sqlc.arg(id);

-- TaskParkedAny reports whether any task waits for an agent.
-- name: TaskParkedAny :one
SELECT EXISTS (SELECT 1 FROM agents.tasks WHERE parked_at IS NOT NULL AND status IN ('pending', 'assigned')) AS parked;

-- TaskProgressEvent records a task's progress and its timeline entry in one
-- statement (one round trip), only while the worker holds the lease.
-- name: TaskProgressEvent :exec
WITH p AS (
    UPDATE agents.tasks AS t SET progress = greatest(t.progress, sqlc.arg(progress)::smallint)
    WHERE t.id = sqlc.arg(task_id)::uuid AND t.lease = sqlc.arg(lease)::bigint AND t.status = 'processing'
    RETURNING t.id AS task_id
)
INSERT INTO agents.task_events (task_id, type, message, data)
SELECT p.task_id, 'progress', sqlc.arg(message)::text, sqlc.arg(data)::jsonb FROM p;

-- Waiting for delegated parts without holding a worker or an agent. A task
-- that has asked for its parts suspends (TaskAwaitParts): it stays
-- processing with parts_deadline set, which counts it out of its agent
-- (migration 00008), and its job ends. Every transaction that ends a part
-- locks the parent first (TaskLockParentOf) and then settles it
-- (TaskPartsSettle): progress while parts are open, and back in line with a
-- job available at once when the last one ends. Locking the parent before
-- counting, in a separate statement, means two parts ending together, or a
-- part ending while its parent suspends, always see each other.

-- TaskLockParentOf locks the parent of a task, if it has one, before the
-- task's outcome is written.
-- name: TaskLockParentOf :one
SELECT p.id FROM agents.tasks AS p
WHERE p.id = (SELECT c.parent_task_id FROM agents.tasks AS c WHERE c.id = sqlc.arg(task_id))
FOR NO KEY UPDATE OF p;

-- TaskLockLeased locks a running task under the worker's lease.
-- name: TaskLockLeased :one
SELECT * FROM agents.tasks
WHERE id = sqlc.arg(id) AND lease = sqlc.arg(lease) AND status = 'processing'
FOR NO KEY UPDATE;

-- TaskAwaitParts suspends a running task (locked by TaskLockLeased) while
-- any of its parts is open: its attempt is not counted, its lease ends and
-- the trigger frees its agent. No row when every part has ended.
-- name: TaskAwaitParts :one
WITH parts AS (
    SELECT count(*)::int AS total,
           (count(*) FILTER (WHERE c.status IN ('completed', 'failed', 'cancelled')))::int AS done
    FROM agents.tasks AS c WHERE c.parent_task_id = sqlc.arg(id)::uuid
)
UPDATE agents.tasks AS t
SET parts_deadline = sqlc.arg(deadline)::timestamptz, lease = t.lease + 1, heartbeat_at = NULL,
    attempts = greatest(t.attempts - 1, 0),
    progress = greatest(t.progress, (10 + 60 * parts.done / greatest(parts.total, 1))::smallint)
FROM parts
WHERE t.id = sqlc.arg(id)::uuid AND t.lease = sqlc.arg(lease)::bigint AND t.status = 'processing' AND parts.done < parts.total
RETURNING sqlc.embed(t), parts.total, parts.done;

-- TaskLockAwaiting locks a task waiting for its parts whose current job is
-- job_id (the job scheduled at its deadline).
-- name: TaskLockAwaiting :one
SELECT * FROM agents.tasks
WHERE id = sqlc.arg(id) AND job_id = sqlc.arg(job_id) AND status = 'processing' AND parts_deadline IS NOT NULL
FOR NO KEY UPDATE;

-- TaskPartsSettle, on a task waiting for its parts and already locked,
-- moves its progress with the parts that ended and, once all have, puts it
-- back in line (pending, no agent) to write its report. It returns the task,
-- how many parts it has and how many ended; no row when it is not waiting.
-- name: TaskPartsSettle :one
WITH parts AS (
    SELECT count(*)::int AS total,
           (count(*) FILTER (WHERE c.status IN ('completed', 'failed', 'cancelled')))::int AS done
    FROM agents.tasks AS c WHERE c.parent_task_id = sqlc.arg(id)::uuid
)
UPDATE agents.tasks AS t
SET progress = greatest(t.progress, (10 + 60 * parts.done / greatest(parts.total, 1))::smallint),
    status = CASE WHEN parts.done >= parts.total THEN 'pending' ELSE t.status END,
    agent_id = CASE WHEN parts.done >= parts.total THEN NULL ELSE t.agent_id END,
    parts_deadline = CASE WHEN parts.done >= parts.total THEN NULL ELSE t.parts_deadline END
FROM parts
WHERE t.id = sqlc.arg(id)::uuid AND t.status = 'processing' AND t.parts_deadline IS NOT NULL
RETURNING sqlc.embed(t), parts.total, parts.done;

-- TaskCancelOpenParts cancels a task's parts that have not ended (the task
-- was cancelled or timed out); the parent is locked first.
-- name: TaskCancelOpenParts :many
UPDATE agents.tasks
SET status = 'cancelled', completed_at = now(), error_message = sqlc.arg(reason), parked_at = NULL, heartbeat_at = NULL
WHERE parent_task_id = sqlc.arg(parent_id) AND status IN ('pending', 'assigned', 'processing')
RETURNING *;

-- TaskRequestSender is the agent that asked for a delegated part (the
-- sender of its request), to whom its response goes.
-- name: TaskRequestSender :one
SELECT sender_id FROM agents.messages
WHERE correlation_id = sqlc.arg(task_id)::uuid AND type = 'request' AND sender_id IS NOT NULL
ORDER BY created_at
LIMIT 1;

-- TaskStepBegin starts a worker's step in one round trip: it checks that
-- the worker still holds the task's lease, moves the progress forward
-- (progress < 0 leaves it), and records the step's timeline entries (a
-- progress entry, the step itself), in order. held is false, and nothing
-- is written, once the lease has moved on.
-- name: TaskStepBegin :one
WITH held AS (
    SELECT t.id FROM agents.tasks AS t
    WHERE t.id = sqlc.arg(task_id)::uuid AND t.lease = sqlc.arg(lease)::bigint AND t.status = 'processing'
), moved AS (
    UPDATE agents.tasks AS t SET progress = sqlc.arg(progress)::smallint
    FROM held
    WHERE t.id = held.id AND sqlc.arg(progress)::smallint > t.progress
    RETURNING t.id
), entries AS (
    INSERT INTO agents.task_events (task_id, type, message, data)
    SELECT held.id, (sqlc.arg(types)::text[])[i.n], (sqlc.arg(messages)::text[])[i.n], (sqlc.arg(datas)::jsonb[])[i.n]
    FROM held, generate_series(1, cardinality(sqlc.arg(types)::text[])) AS i (n)
    ORDER BY i.n
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM held) AS held, (SELECT count(*) FROM moved)::int AS moved, (SELECT count(*) FROM entries)::int AS entries;

-- TaskEventsCreate records several timeline entries of a task in one
-- round trip, in order.
-- name: TaskEventsCreate :exec
INSERT INTO agents.task_events (task_id, type, message, data)
SELECT sqlc.arg(task_id)::uuid, (sqlc.arg(types)::text[])[i.n], (sqlc.arg(messages)::text[])[i.n], (sqlc.arg(datas)::jsonb[])[i.n]
FROM generate_series(1, cardinality(sqlc.arg(types)::text[])) AS i (n)
ORDER BY i.n;
