-- name: DashboardSessionCreate :one
INSERT INTO mcp.dashboard_sessions (id, token_hash, api_key_id, csrf_token, expires_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING *;

-- DashboardSessionGet finds a usable session by its token hash: not past its
-- absolute expiry nor idle for longer than idle_seconds, and its key still
-- active, unexpired and admin. Checking the key on every request is what
-- makes a revoked key end its sessions at once, on every instance.
-- name: DashboardSessionGet :one
SELECT s.id, s.api_key_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
       k.name AS key_name, k.prefix AS key_prefix, k.expires_at AS key_expires_at
FROM mcp.dashboard_sessions AS s
JOIN mcp.api_keys AS k ON k.id = s.api_key_id
WHERE s.token_hash = $1
  AND s.expires_at > now()
  AND s.last_seen_at > now() - make_interval(secs => sqlc.arg(idle_seconds)::double precision)
  AND k.is_active AND k.revoked_at IS NULL
  AND (k.expires_at IS NULL OR k.expires_at > now())
  AND 'admin' = ANY (k.scopes);

-- name: DashboardSessionTouch :exec
UPDATE mcp.dashboard_sessions SET last_seen_at = now() WHERE id = $1;

-- name: DashboardSessionDelete :exec
DELETE FROM mcp.dashboard_sessions WHERE id = $1;

-- name: DashboardSessionDeleteByKey :exec
DELETE FROM mcp.dashboard_sessions WHERE api_key_id = $1;

-- DashboardSessionDeleteExpired removes sessions no request can use any more,
-- also those of revoked keys.
-- name: DashboardSessionDeleteExpired :execrows
DELETE FROM mcp.dashboard_sessions AS s
WHERE s.expires_at <= now()
   OR s.last_seen_at <= now() - make_interval(secs => sqlc.arg(idle_seconds)::double precision)
   OR EXISTS (SELECT 1 FROM mcp.api_keys AS k WHERE k.id = s.api_key_id AND (NOT k.is_active OR k.revoked_at IS NOT NULL));
