-- A task waiting for its delegated parts holds neither a worker nor its
-- agent.
--
-- parts_deadline, set while a task that delegated parts waits for them
-- (its status stays processing: it is in progress), is when it times out.
-- Its River job has ended; a job scheduled at the deadline is the task's
-- job meanwhile, and the transaction in which its last part ends replaces
-- that job with one available at once. The trigger of migration 00006
-- counts such a task out of its agent's running tasks: the agent is free
-- for other work while the parts run.

-- +goose Up
ALTER TABLE agents.tasks ADD COLUMN parts_deadline timestamptz;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION agents.task_agent_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was_running boolean := TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'processing' AND OLD.agent_id IS NOT NULL
                           AND OLD.parts_deadline IS NULL;
    now_running boolean := TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'processing' AND NEW.agent_id IS NOT NULL
                           AND NEW.parts_deadline IS NULL;
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
                      WHERE t.agent_id = a.id AND t.status = 'processing' AND t.parts_deadline IS NULL AND t.id <> OLD.id
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

DROP TRIGGER tasks_agent_slots ON agents.tasks;
CREATE TRIGGER tasks_agent_slots
    AFTER INSERT OR UPDATE OF status, agent_id, parts_deadline OR DELETE ON agents.tasks
    FOR EACH ROW EXECUTE FUNCTION agents.task_agent_slots();

-- +goose Down
DROP TRIGGER tasks_agent_slots ON agents.tasks;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION agents.task_agent_slots() RETURNS trigger
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
ALTER TABLE agents.tasks DROP COLUMN parts_deadline;
