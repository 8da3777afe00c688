-- Task execution on River: each task remembers its job (to cancel it), its
-- timeout and how many attempts it gets.

-- +goose Up
ALTER TABLE agents.tasks
    ADD COLUMN job_id          bigint,
    ADD COLUMN timeout_seconds integer NOT NULL DEFAULT 300 CHECK (timeout_seconds BETWEEN 1 AND 86400),
    ADD COLUMN max_attempts    integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 25);
-- Agents are picked by capability as well as by type.
CREATE INDEX agents_capabilities_idx ON agents.agents USING gin (capabilities);

-- +goose Down
DROP INDEX agents.agents_capabilities_idx;
ALTER TABLE agents.tasks DROP COLUMN job_id, DROP COLUMN timeout_seconds, DROP COLUMN max_attempts;
