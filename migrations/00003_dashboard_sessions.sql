-- Dashboard sessions get an idle expiry beside the absolute one: last_seen_at
-- is moved forward (at most once a minute) while the operator uses the page.
-- +goose Up
ALTER TABLE mcp.dashboard_sessions ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX dashboard_sessions_key_idx ON mcp.dashboard_sessions (api_key_id);

-- +goose Down
DROP INDEX mcp.dashboard_sessions_key_idx;
ALTER TABLE mcp.dashboard_sessions DROP COLUMN last_seen_at;
