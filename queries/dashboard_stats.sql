-- Aggregates behind the dashboard's overview. They are read by a ticker
-- into a cache, never on a page view: the counts are maintained, and each
-- window is read through an index.

-- StatsTasksByStatus reads the maintained counts (migration 00007), as
-- TaskCountByStatus does.
-- name: StatsTasksByStatus :many
SELECT status, sum(n)::bigint AS n
FROM (SELECT status, n FROM agents.task_counts UNION ALL SELECT status, n FROM agents.task_count_deltas) AS c
GROUP BY status;

-- TaskAggregatesFold folds the appended count deltas and run times into
-- the maintained aggregates (migration 00007); it returns at once when
-- another instance is folding.
-- name: TaskAggregatesFold :exec
SELECT agents.fold_task_aggregates();

-- name: StatsAgentsByStatus :many
SELECT status, count(*)::bigint AS n FROM agents.agents GROUP BY status;

-- StatsTaskThroughput counts tasks finished per minute since a time, by
-- outcome.
-- name: StatsTaskThroughput :many
SELECT date_trunc('minute', completed_at)::timestamptz AS minute, status, count(*)::bigint AS n
FROM agents.tasks
WHERE completed_at >= sqlc.arg(since)::timestamptz AND status IN ('completed', 'failed')
GROUP BY 1, 2;

-- name: StatsToolRuns :one
SELECT count(*)::bigint AS runs, count(*) FILTER (WHERE error IS NOT NULL)::bigint AS errors
FROM mcp.tool_executions WHERE created_at >= sqlc.arg(since)::timestamptz;

-- name: StatsToolLatency :many
SELECT tool_name,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY execution_time_ms)::float8 AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY execution_time_ms)::float8 AS p95,
       count(*)::bigint AS runs
FROM mcp.tool_executions WHERE created_at >= sqlc.arg(since)::timestamptz
GROUP BY tool_name ORDER BY tool_name;

-- name: StatsLLMUsageByDay :many
SELECT date_trunc('day', created_at)::timestamptz AS day, sum(tokens_used)::bigint AS tokens, sum(cost)::float8 AS cost
FROM mcp.tool_executions WHERE created_at >= sqlc.arg(since)::timestamptz AND tokens_used > 0
GROUP BY 1 ORDER BY 1;
