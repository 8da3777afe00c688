-- name: APIKeyCreate :one
INSERT INTO mcp.api_keys (id, name, prefix, key_hash, scopes, rate_limit, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: APIKeyGetByHash :one
SELECT * FROM mcp.api_keys WHERE key_hash = $1;

-- name: APIKeyGet :one
SELECT * FROM mcp.api_keys WHERE id = $1;

-- APIKeyList pages newest first: the cursor is the (created_at, id) of the
-- last row of the previous page; a NULL cursor starts at the top. status
-- ('' for all) keeps active, expired or revoked keys only.
-- name: APIKeyList :many
SELECT * FROM mcp.api_keys
WHERE (sqlc.narg(cursor_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(cursor_created_at)::timestamptz, sqlc.narg(cursor_id)::uuid))
  AND CASE sqlc.arg(status)::text
        WHEN 'active' THEN is_active AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
        WHEN 'expired' THEN is_active AND revoked_at IS NULL AND expires_at <= now()
        WHEN 'revoked' THEN NOT is_active OR revoked_at IS NOT NULL
        ELSE true
      END
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- name: APIKeyRevoke :one
UPDATE mcp.api_keys
SET is_active = false, revoked_at = coalesce(revoked_at, now())
WHERE id = $1
RETURNING *;

-- name: APIKeyCountActive :one
SELECT count(*) FROM mcp.api_keys
WHERE is_active AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now());

-- APIKeyTouch records last use for a batch of keys in one statement; a later
-- time never goes backwards.
-- name: APIKeyTouch :exec
UPDATE mcp.api_keys AS k
SET last_used_at = greatest(k.last_used_at, u.used_at)
FROM (SELECT unnest(sqlc.arg(ids)::uuid[]) AS id, unnest(sqlc.arg(used_at)::timestamptz[]) AS used_at) AS u
WHERE k.id = u.id;
