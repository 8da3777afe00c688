-- ToolUpsert registers a built-in tool at start. Its definition follows the
-- code; an operator's status choice (disabled) is kept.
-- name: ToolUpsert :one
INSERT INTO mcp.tools (id, name, description, input_schema, output_schema, category, tags)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (name) DO UPDATE
SET description = excluded.description, input_schema = excluded.input_schema,
    output_schema = excluded.output_schema, category = excluded.category, tags = excluded.tags,
    updated_at = now()
RETURNING *;

-- name: ToolList :many
SELECT * FROM mcp.tools ORDER BY name;

-- name: ToolGet :one
SELECT * FROM mcp.tools WHERE name = $1;

-- name: ToolSetStatus :one
UPDATE mcp.tools SET status = $2, updated_at = now() WHERE name = $1 RETURNING *;

-- name: ToolExecutionCreate :one
INSERT INTO mcp.tool_executions (id, tool_name, agent_id, task_id, api_key_id, source, parameters, result, error,
                                 execution_time_ms, tokens_used, cost, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING *;

-- name: ToolExecutionGet :one
SELECT * FROM mcp.tool_executions WHERE id = $1;

-- ToolExecutionList pages newest first with optional filters; a NULL filter
-- matches everything.
-- name: ToolExecutionList :many
SELECT * FROM mcp.tool_executions
WHERE (sqlc.narg(tool_name)::text IS NULL OR tool_name = sqlc.narg(tool_name))
  AND (sqlc.narg(source)::text IS NULL OR source = sqlc.narg(source))
  AND (sqlc.narg(task_id)::uuid IS NULL OR task_id = sqlc.narg(task_id))
  AND (sqlc.narg(agent_id)::uuid IS NULL OR agent_id = sqlc.narg(agent_id))
  AND (sqlc.narg(api_key_id)::uuid IS NULL OR api_key_id = sqlc.narg(api_key_id))
  AND (sqlc.narg(failed)::boolean IS NULL OR (error IS NOT NULL) = sqlc.narg(failed))
  AND (sqlc.narg(cursor_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(cursor_created_at)::timestamptz, sqlc.narg(cursor_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- ToolExecutionCreateBatch stores the executions of concurrent calls in one
-- statement, one round trip (the group commit in internal/tools/execlog.go).
-- Arrays travel whole, so NULLs are spelled as values no row can hold: the
-- nil UUID for no agent, task or key, '' for no error, JSON null for no
-- result.
-- name: ToolExecutionCreateBatch :exec
INSERT INTO mcp.tool_executions (id, tool_name, agent_id, task_id, api_key_id, source, parameters, result, error,
                                 execution_time_ms, tokens_used, cost, created_at)
SELECT u.id, u.tool_name,
       nullif(u.agent_id, '00000000-0000-0000-0000-000000000000'::uuid),
       nullif(u.task_id, '00000000-0000-0000-0000-000000000000'::uuid),
       nullif(u.api_key_id, '00000000-0000-0000-0000-000000000000'::uuid),
       u.source, u.parameters, nullif(u.result, 'null'::jsonb), nullif(u.error, ''),
       u.execution_time_ms, u.tokens_used, u.cost, u.created_at
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id, unnest(sqlc.arg(tool_names)::text[]) AS tool_name,
             unnest(sqlc.arg(agent_ids)::uuid[]) AS agent_id, unnest(sqlc.arg(task_ids)::uuid[]) AS task_id,
             unnest(sqlc.arg(api_key_ids)::uuid[]) AS api_key_id, unnest(sqlc.arg(sources)::text[]) AS source,
             unnest(sqlc.arg(parameters)::jsonb[]) AS parameters, unnest(sqlc.arg(results)::jsonb[]) AS result,
             unnest(sqlc.arg(errors)::text[]) AS error, unnest(sqlc.arg(execution_time_ms)::integer[]) AS execution_time_ms,
             unnest(sqlc.arg(tokens_used)::bigint[]) AS tokens_used, unnest(sqlc.arg(costs)::numeric[]) AS cost,
             unnest(sqlc.arg(created_at)::timestamptz[]) AS created_at) AS u;
