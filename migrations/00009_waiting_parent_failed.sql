-- A task that times out while it waits for its delegated parts counts as a
-- failure of the agent that started it, as a task that times out while it
-- runs does. The slots trigger (migrations 00006 and 00008) counts outcomes
-- only for tasks that held a slot, and a waiting task holds none: its
-- failure needs a trigger of its own, which fires for that case alone.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION agents.task_waiting_failed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agents.agents
    SET tasks_failed = tasks_failed + 1, last_activity = now(), updated_at = now()
    WHERE id = OLD.agent_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER tasks_waiting_failed
    AFTER UPDATE OF status ON agents.tasks
    FOR EACH ROW
    WHEN (OLD.status = 'processing' AND OLD.parts_deadline IS NOT NULL AND OLD.agent_id IS NOT NULL AND NEW.status = 'failed')
    EXECUTE FUNCTION agents.task_waiting_failed();

-- +goose Down
DROP TRIGGER tasks_waiting_failed ON agents.tasks;
DROP FUNCTION agents.task_waiting_failed();
