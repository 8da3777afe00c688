-- name: MessageCreate :one
INSERT INTO agents.messages (id, sender_id, recipient_id, type, correlation_id, task_id, payload, delivered_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- MessageDeliver marks the messages of a correlation as delivered to their
-- recipient (the first delivery time is kept).
-- name: MessageDeliver :many
UPDATE agents.messages
SET delivered_at = coalesce(delivered_at, now())
WHERE correlation_id = $1 AND type = $2
RETURNING *;

-- MessageList pages an agent's messages, sent and received, newest first.
-- name: MessageList :many
SELECT * FROM agents.messages
WHERE (recipient_id = sqlc.arg(agent_id) OR sender_id = sqlc.arg(agent_id))
  AND (sqlc.narg(cursor_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(cursor_created_at)::timestamptz, sqlc.narg(cursor_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- name: MessageListByTask :many
SELECT * FROM agents.messages WHERE task_id = $1 ORDER BY created_at, id;

-- MessageListAll pages every agent's messages, newest first, optionally of
-- one type and sent or received by one agent.
-- name: MessageListAll :many
SELECT * FROM agents.messages
WHERE (sqlc.narg(type)::text IS NULL OR type = sqlc.narg(type)::text)
  AND (sqlc.narg(agent_id)::uuid IS NULL
       OR sender_id = sqlc.narg(agent_id)::uuid OR recipient_id = sqlc.narg(agent_id)::uuid)
  AND (sqlc.narg(cursor_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(cursor_created_at)::timestamptz, sqlc.narg(cursor_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(max_rows);
