-- Counts of tasks by status and the run-time estimate of each domain are
-- maintained, so no request and no metrics scrape counts or averages over
-- the task table (a million tasks made each scan 150-200 ms).
--
-- Writers only append: triggers add a signed delta per status
-- (task_count_deltas) and the run time of each completed task
-- (task_duration_samples) in the transaction of the change, so both are
-- exactly as durable as the change itself and no writer ever waits on
-- another for a counter row. agents.fold_task_aggregates() moves the
-- appended rows into task_counts and task_durations in one transaction;
-- any instance may call it at any time (one folds at a time, the others
-- return at once), and a crash in the middle loses nothing.
--
-- The count of a status is its task_counts row plus its unfolded deltas,
-- exact at every snapshot. The estimate of a domain is an exponentially
-- weighted mean of its run times (weight 0.04, so about the last 50 tasks
-- count), bias-corrected while it has few samples.

-- +goose Up
CREATE TABLE agents.task_counts (
    status text PRIMARY KEY,
    n      bigint NOT NULL
);
CREATE TABLE agents.task_count_deltas (
    status text NOT NULL,
    n      bigint NOT NULL
);
CREATE TABLE agents.task_durations (
    domain  text PRIMARY KEY,
    -- ewma starts at 0; ewma / (1 - 0.96^samples) is the estimate
    ewma    float8 NOT NULL,
    samples bigint NOT NULL
);
CREATE TABLE agents.task_duration_samples (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain  text NOT NULL,
    seconds float8 NOT NULL
);
-- The logs are emptied every few seconds: vacuum them often so readers
-- never wade through dead rows.
ALTER TABLE agents.task_count_deltas SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000);
ALTER TABLE agents.task_duration_samples SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000);

-- What the table holds now: the one scan this design ever makes.
INSERT INTO agents.task_counts (status, n)
SELECT s.status, count(t.id) FROM unnest(ARRAY['pending', 'assigned', 'processing', 'completed', 'failed', 'cancelled']) AS s (status)
LEFT JOIN agents.tasks AS t ON t.status = s.status
GROUP BY s.status;
INSERT INTO agents.task_durations (domain, ewma, samples)
SELECT r.domain, avg(r.seconds) * (1 - power(0.96, count(*))), count(*)
FROM (SELECT t.domain, greatest(extract(epoch FROM t.completed_at - t.started_at), 0)::float8 AS seconds,
             row_number() OVER (PARTITION BY t.domain ORDER BY t.completed_at DESC) AS k
      FROM agents.tasks AS t
      WHERE t.status = 'completed' AND t.started_at IS NOT NULL AND t.completed_at IS NOT NULL) AS r
WHERE r.k <= 50
GROUP BY r.domain;

-- +goose StatementBegin
CREATE FUNCTION agents.task_aggregates_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agents.task_count_deltas (status, n) SELECT status, count(*) FROM new_rows GROUP BY status;
    INSERT INTO agents.task_duration_samples (domain, seconds)
    SELECT domain, greatest(extract(epoch FROM completed_at - started_at), 0)
    FROM new_rows WHERE status = 'completed' AND started_at IS NOT NULL AND completed_at IS NOT NULL
    ORDER BY completed_at;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION agents.task_aggregates_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agents.task_count_deltas (status, n) VALUES (OLD.status, -1), (NEW.status, 1);
    IF NEW.status = 'completed' AND NEW.started_at IS NOT NULL AND NEW.completed_at IS NOT NULL THEN
        INSERT INTO agents.task_duration_samples (domain, seconds)
        VALUES (NEW.domain, greatest(extract(epoch FROM NEW.completed_at - NEW.started_at), 0));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION agents.task_aggregates_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agents.task_count_deltas (status, n) SELECT status, -count(*) FROM old_rows GROUP BY status;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION agents.task_aggregates_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM agents.task_count_deltas;
    UPDATE agents.task_counts SET n = 0;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- A statement's inserts are one delta per status (a seeding batch of
-- 20,000 tasks writes a handful of rows); a status change is two, and an
-- update that leaves the status alone (progress, heartbeat) costs nothing:
-- the WHEN is checked without calling the function.
CREATE TRIGGER tasks_aggregates_inserted AFTER INSERT ON agents.tasks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION agents.task_aggregates_inserted();
CREATE TRIGGER tasks_aggregates_status AFTER UPDATE OF status ON agents.tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION agents.task_aggregates_status();
CREATE TRIGGER tasks_aggregates_deleted AFTER DELETE ON agents.tasks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION agents.task_aggregates_deleted();
CREATE TRIGGER tasks_aggregates_truncated AFTER TRUNCATE ON agents.tasks
    FOR EACH STATEMENT EXECUTE FUNCTION agents.task_aggregates_truncated();

-- +goose StatementBegin
CREATE FUNCTION agents.fold_task_aggregates() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- One folder at a time; the others have nothing to add.
    IF NOT pg_try_advisory_xact_lock(8391850247713580915) THEN
        RETURN;
    END IF;
    WITH d AS (DELETE FROM agents.task_count_deltas RETURNING status, n)
    INSERT INTO agents.task_counts AS c (status, n)
    SELECT status, sum(n) FROM d GROUP BY status
    ON CONFLICT (status) DO UPDATE SET n = c.n + excluded.n;
    -- ewma' = 0.96^k * ewma + sum of 0.04 * 0.96^age * seconds over the k
    -- new samples, age 0 the newest. Weights below 0.96^1000 are 0 (and
    -- keep power() from underflowing).
    WITH d AS (DELETE FROM agents.task_duration_samples RETURNING id, domain, seconds),
    r AS (SELECT domain, seconds, row_number() OVER (PARTITION BY domain ORDER BY id DESC) - 1 AS age FROM d),
    b AS (SELECT domain, sum(CASE WHEN age < 1000 THEN 0.04 * power(0.96::float8, age) * seconds ELSE 0 END) AS add, count(*) AS k
          FROM r GROUP BY domain)
    INSERT INTO agents.task_durations AS t (domain, ewma, samples)
    SELECT domain, add, k FROM b
    ON CONFLICT (domain) DO UPDATE
    SET ewma = t.ewma * CASE WHEN excluded.samples < 1000 THEN power(0.96::float8, excluded.samples) ELSE 0 END + excluded.ewma,
        samples = t.samples + excluded.samples;
END
$$;
-- +goose StatementEnd

-- The overview's completed and failed tasks per minute of the last hour.
CREATE INDEX tasks_finished_idx ON agents.tasks (completed_at) WHERE status IN ('completed', 'failed');

-- +goose Down
DROP INDEX agents.tasks_finished_idx;
DROP FUNCTION agents.fold_task_aggregates();
DROP TRIGGER tasks_aggregates_truncated ON agents.tasks;
DROP TRIGGER tasks_aggregates_deleted ON agents.tasks;
DROP TRIGGER tasks_aggregates_status ON agents.tasks;
DROP TRIGGER tasks_aggregates_inserted ON agents.tasks;
DROP FUNCTION agents.task_aggregates_truncated();
DROP FUNCTION agents.task_aggregates_deleted();
DROP FUNCTION agents.task_aggregates_status();
DROP FUNCTION agents.task_aggregates_inserted();
DROP TABLE agents.task_duration_samples;
DROP TABLE agents.task_durations;
DROP TABLE agents.task_count_deltas;
DROP TABLE agents.task_counts;
