-- The whole bizmcp data model (SPEC.md "Data model"). Applied migrations are
-- never edited: later changes add files.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS mcp;
CREATE SCHEMA IF NOT EXISTS agents;

CREATE TABLE mcp.tools (
    id            uuid PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    description   text NOT NULL DEFAULT '',
    input_schema  jsonb NOT NULL DEFAULT '{"type":"object"}',
    output_schema jsonb,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    category      text NOT NULL DEFAULT 'general',
    tags          text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mcp.api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write', 'admin'] AND cardinality(scopes) > 0),
    rate_limit   integer NOT NULL CHECK (rate_limit > 0),
    is_active    boolean NOT NULL DEFAULT true,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz
);
-- The key list pages newest first with a keyset cursor.
CREATE INDEX api_keys_created_idx ON mcp.api_keys (created_at DESC, id DESC);

CREATE TABLE agents.agents (
    id              uuid PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type            text NOT NULL CHECK (type IN ('finance', 'sales', 'marketing', 'analytics', 'operations', 'general')),
    description     text NOT NULL DEFAULT '',
    capabilities    text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'busy', 'paused', 'error')),
    current_task_id uuid,
    tasks_completed integer NOT NULL DEFAULT 0,
    tasks_failed    integer NOT NULL DEFAULT 0,
    last_activity   timestamptz,
    config          jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_type_status_idx ON agents.agents (type, status);
CREATE INDEX agents_created_idx ON agents.agents (created_at DESC, id DESC);

CREATE TABLE agents.tasks (
    id             uuid PRIMARY KEY,
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description    text NOT NULL DEFAULT '',
    domain         text NOT NULL CHECK (domain IN ('finance', 'sales', 'marketing', 'analytics', 'operations', 'general')),
    priority       text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'assigned', 'processing', 'completed', 'failed', 'cancelled')),
    agent_id       uuid REFERENCES agents.agents (id) ON DELETE SET NULL,
    parent_task_id uuid REFERENCES agents.tasks (id) ON DELETE SET NULL,
    input_data     jsonb NOT NULL DEFAULT '{}',
    output_data    jsonb,
    error_message  text,
    progress       smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    attempts       integer NOT NULL DEFAULT 0,
    tokens_used    bigint NOT NULL DEFAULT 0,
    cost           numeric(14, 6) NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz
);
ALTER TABLE agents.agents
    ADD CONSTRAINT agents_current_task_fk FOREIGN KEY (current_task_id) REFERENCES agents.tasks (id) ON DELETE SET NULL;
-- Task lists are newest first, optionally filtered by one of these columns.
CREATE INDEX tasks_created_idx ON agents.tasks (created_at DESC, id DESC);
CREATE INDEX tasks_status_created_idx ON agents.tasks (status, created_at DESC, id DESC);
CREATE INDEX tasks_domain_created_idx ON agents.tasks (domain, created_at DESC, id DESC);
CREATE INDEX tasks_priority_created_idx ON agents.tasks (priority, created_at DESC, id DESC);
CREATE INDEX tasks_agent_created_idx ON agents.tasks (agent_id, created_at DESC, id DESC) WHERE agent_id IS NOT NULL;
CREATE INDEX tasks_parent_idx ON agents.tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;

CREATE TABLE agents.task_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id    uuid NOT NULL REFERENCES agents.tasks (id) ON DELETE CASCADE,
    type       text NOT NULL CHECK (type IN ('created', 'assigned', 'step', 'tool_call', 'message', 'progress', 'retry', 'completed', 'failed', 'cancelled')),
    message    text NOT NULL DEFAULT '',
    data       jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_events_task_idx ON agents.task_events (task_id, id);

CREATE TABLE agents.messages (
    id             uuid PRIMARY KEY,
    sender_id      uuid REFERENCES agents.agents (id) ON DELETE SET NULL,
    recipient_id   uuid NOT NULL REFERENCES agents.agents (id) ON DELETE CASCADE,
    type           text NOT NULL CHECK (type IN ('request', 'response', 'notification')),
    correlation_id uuid,
    task_id        uuid REFERENCES agents.tasks (id) ON DELETE SET NULL,
    payload        jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at   timestamptz
);
CREATE INDEX messages_recipient_idx ON agents.messages (recipient_id, created_at DESC, id DESC);
CREATE INDEX messages_sender_idx ON agents.messages (sender_id, created_at DESC, id DESC);
CREATE INDEX messages_correlation_idx ON agents.messages (correlation_id) WHERE correlation_id IS NOT NULL;
-- Undelivered messages are redelivered from the table, the source of truth.
CREATE INDEX messages_undelivered_idx ON agents.messages (recipient_id, created_at) WHERE delivered_at IS NULL;

CREATE TABLE mcp.tool_executions (
    id                uuid PRIMARY KEY,
    tool_name         text NOT NULL,
    agent_id          uuid REFERENCES agents.agents (id) ON DELETE SET NULL,
    task_id           uuid REFERENCES agents.tasks (id) ON DELETE SET NULL,
    api_key_id        uuid REFERENCES mcp.api_keys (id) ON DELETE SET NULL,
    source            text NOT NULL CHECK (source IN ('mcp', 'rest', 'agent', 'dashboard')),
    parameters        jsonb NOT NULL DEFAULT '{}',
    result            jsonb,
    error             text,
    execution_time_ms integer NOT NULL DEFAULT 0,
    tokens_used       bigint NOT NULL DEFAULT 0,
    cost              numeric(14, 6) NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_executions_created_idx ON mcp.tool_executions (created_at DESC, id DESC);
CREATE INDEX tool_executions_tool_idx ON mcp.tool_executions (tool_name, created_at DESC, id DESC);
CREATE INDEX tool_executions_task_idx ON mcp.tool_executions (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX tool_executions_agent_idx ON mcp.tool_executions (agent_id, created_at DESC) WHERE agent_id IS NOT NULL;

-- Dashboard sessions: only the SHA-256 of the cookie token is stored.
CREATE TABLE mcp.dashboard_sessions (
    id         uuid PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    api_key_id uuid NOT NULL REFERENCES mcp.api_keys (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expires_idx ON mcp.dashboard_sessions (expires_at);

-- +goose Down
DROP TABLE mcp.dashboard_sessions;
DROP TABLE mcp.tool_executions;
DROP TABLE agents.messages;
DROP TABLE agents.task_events;
ALTER TABLE agents.agents DROP CONSTRAINT agents_current_task_fk;
DROP TABLE agents.tasks;
DROP TABLE agents.agents;
DROP TABLE mcp.api_keys;
DROP TABLE mcp.tools;
DROP SCHEMA agents;
DROP SCHEMA mcp;
