-- The dashboard's messages page lists every agent's messages newest first,
-- optionally of one type: keyset pages need these orders indexed.
-- +goose Up
CREATE INDEX messages_created_idx ON agents.messages (created_at DESC, id DESC);
CREATE INDEX messages_type_created_idx ON agents.messages (type, created_at DESC, id DESC);

-- +goose Down
DROP INDEX agents.messages_type_created_idx;
DROP INDEX agents.messages_created_idx;
