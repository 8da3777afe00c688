-- Agents run several tasks at once, and a free agent starts the next waiting
-- task at once instead of every waiting task polling for it.
--
-- max_concurrency is how many tasks an agent runs at once (the application
-- gives each type its default and limit). running counts the agent's tasks
-- in processing; a trigger keeps it, the agent's status (busy while it runs
-- anything, idle when not, paused and error as they are), current_task_id
-- (the task it started last, among those it still runs) and its outcome
-- counters in step with every change of a task's status or agent, in the
-- transaction of that change. No code path (finish, cancel, takeover, sweep)
-- can then leave an agent counted busy with a task that no longer runs.
--
-- parked_at marks a task waiting for a free agent: its River job is set
-- aside (snoozed) and it holds no worker; whoever frees a matching agent
-- starts it.

-- +goose Up
ALTER TABLE agents.agents
    ADD COLUMN max_concurrency integer NOT NULL DEFAULT 1 CHECK (max_concurrency BETWEEN 1 AND 64),
    ADD COLUMN running integer NOT NULL DEFAULT 0 CHECK (running >= 0);
UPDATE agents.agents SET max_concurrency = CASE WHEN type = 'general' THEN 2 ELSE 4 END;
UPDATE agents.agents AS a
SET running = (SELECT count(*) FROM agents.tasks AS t WHERE t.agent_id = a.id AND t.status = 'processing');

ALTER TABLE agents.tasks ADD COLUMN parked_at timestamptz;
-- The next waiting task of a domain, or assigned to an agent, most urgent
-- first, then oldest.
CREATE INDEX tasks_parked_idx ON agents.tasks (domain, (CASE priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END), parked_at)
    WHERE parked_at IS NOT NULL AND status = 'pending';
CREATE INDEX tasks_parked_assigned_idx ON agents.tasks (agent_id, (CASE priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END), parked_at)
    WHERE parked_at IS NOT NULL AND status = 'assigned';
-- The tasks an agent runs (current_task_id moves to another when one ends).
CREATE INDEX tasks_processing_agent_idx ON agents.tasks (agent_id) WHERE status = 'processing';

-- +goose StatementBegin
CREATE FUNCTION agents.task_agent_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was_running boolean := TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'processing' AND OLD.agent_id IS NOT NULL;
    now_running boolean := TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'processing' AND NEW.agent_id IS NOT NULL;
BEGIN
    IF was_running AND now_running AND OLD.agent_id = NEW.agent_id THEN
        RETURN NULL;
    END IF;
    IF was_running THEN
        UPDATE agents.agents AS a
        SET running = greatest(a.running - 1, 0),
            status = CASE WHEN a.status = 'busy' AND a.running <= 1 THEN 'idle' ELSE a.status END,
            current_task_id = CASE
                WHEN a.running <= 1 THEN NULL
                WHEN a.current_task_id IS DISTINCT FROM OLD.id THEN a.current_task_id
                ELSE (SELECT t.id FROM agents.tasks AS t
                      WHERE t.agent_id = a.id AND t.status = 'processing' AND t.id <> OLD.id
                      ORDER BY t.started_at DESC NULLS LAST LIMIT 1)
            END,
            tasks_completed = a.tasks_completed + CASE WHEN TG_OP = 'UPDATE' AND NEW.status = 'completed' THEN 1 ELSE 0 END,
            tasks_failed = a.tasks_failed + CASE WHEN TG_OP = 'UPDATE' AND NEW.status = 'failed' THEN 1 ELSE 0 END,
            last_activity = now(), updated_at = now()
        WHERE a.id = OLD.agent_id;
    END IF;
    IF now_running THEN
        UPDATE agents.agents AS a
        SET running = a.running + 1,
            status = CASE WHEN a.status = 'idle' THEN 'busy' ELSE a.status END,
            current_task_id = NEW.id,
            last_activity = now(), updated_at = now()
        WHERE a.id = NEW.agent_id;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER tasks_agent_slots
    AFTER INSERT OR UPDATE OF status, agent_id OR DELETE ON agents.tasks
    FOR EACH ROW EXECUTE FUNCTION agents.task_agent_slots();

-- +goose Down
DROP TRIGGER tasks_agent_slots ON agents.tasks;
DROP FUNCTION agents.task_agent_slots();
DROP INDEX agents.tasks_processing_agent_idx;
DROP INDEX agents.tasks_parked_assigned_idx;
DROP INDEX agents.tasks_parked_idx;
ALTER TABLE agents.tasks DROP COLUMN parked_at;
ALTER TABLE agents.agents DROP COLUMN running, DROP COLUMN max_concurrency;
