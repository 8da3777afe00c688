-- SeedTasks inserts the seeded tasks numbered first to last, and with each
-- newly inserted task its timeline, its tool run and, for one task in
-- twenty, the request and response messages of a delegation. Everything
-- derives from the task's number: the ids are hashes of it, so seeding the
-- same numbers again inserts nothing (ON CONFLICT DO NOTHING, and the
-- timeline follows only the tasks inserted now).
--
-- Statuses: 86% completed, 7% failed, 4.5% cancelled, the rest pending or
-- processing. Seeded open tasks are inert: a pending one has no job (no
-- worker or sweep picks it up; it can be cancelled) and a processing one
-- has no agent and no heartbeat, so it holds no agent's slot and no
-- takeover requeues it. Agents are the existing agents of the task's
-- domain (any agent when the domain has none), and their outcome counters
-- count the tasks given to them.
-- name: SeedTasks :one
WITH ag AS (
    SELECT coalesce((SELECT array_agg(id ORDER BY created_at, id) FROM agents.agents), '{}'::uuid[]) AS all_ids,
           coalesce((SELECT jsonb_object_agg(type, ids) FROM (
               SELECT type, jsonb_agg(id ORDER BY created_at, id) AS ids FROM agents.agents GROUP BY type) AS t), '{}'::jsonb) AS by_type
), g AS (
    SELECT i, random() AS rs, random() AS rd, random() AS rp, random() AS ra, random() AS rt,
           sqlc.arg(now)::timestamptz - random() * make_interval(days => sqlc.arg(days)::int) AS created
    FROM generate_series(sqlc.arg(first)::bigint, sqlc.arg(last)::bigint) AS i
), t AS (
    SELECT g.i,
           md5('bizmcp-seed-task-' || g.i)::uuid AS id,
           CASE WHEN g.rd < 0.20 THEN 'finance' WHEN g.rd < 0.40 THEN 'sales' WHEN g.rd < 0.55 THEN 'marketing'
                WHEN g.rd < 0.75 THEN 'analytics' WHEN g.rd < 0.90 THEN 'operations' ELSE 'general' END AS domain,
           CASE WHEN g.rp < 0.20 THEN 'low' WHEN g.rp < 0.70 THEN 'medium' WHEN g.rp < 0.92 THEN 'high' ELSE 'critical' END AS priority,
           CASE WHEN g.rs < 0.86 THEN 'completed' WHEN g.rs < 0.93 THEN 'failed' WHEN g.rs < 0.975 THEN 'cancelled'
                WHEN g.rs < 0.997 OR NOT sqlc.arg(open)::boolean THEN 'completed' ELSE 'pending' END AS status0,
           g.rs, g.ra, g.rt, g.created
    FROM g
), s AS (
    -- Open tasks are recent (they would not wait for months); cancelled
    -- tasks were half of them stopped before they started.
    SELECT t.*,
           CASE WHEN t.status0 = 'pending' AND t.rs >= 0.999 THEN 'processing' ELSE t.status0 END AS status,
           CASE WHEN t.status0 = 'pending' THEN sqlc.arg(now)::timestamptz - t.rt * interval '10 minutes' ELSE t.created END AS at,
           (t.status0 IN ('completed', 'failed') OR (t.status0 = 'cancelled' AND t.ra < 0.5)) AS ran,
           -- run time in seconds: tool plans run in under a second, LLM
           -- tasks in several
           CASE t.domain WHEN 'general' THEN 2.0 + 8.0 * t.rt ELSE 0.02 + 0.9 * t.rt * t.rt END AS secs,
           CASE t.domain WHEN 'finance' THEN 'financial_analyzer' WHEN 'sales' THEN 'sales_forecaster'
                WHEN 'marketing' THEN 'customer_segmenter' WHEN 'analytics' THEN 'data_analyzer'
                WHEN 'operations' THEN 'data_analyzer' ELSE 'llm_processor' END AS tool
    FROM t
), r AS (
    SELECT s.*,
           CASE WHEN s.ran AND cardinality(ag.all_ids) > 0 THEN
               coalesce((ag.by_type -> s.domain ->> floor(s.ra * jsonb_array_length(coalesce(ag.by_type -> s.domain, '[]')))::int)::uuid,
                        ag.all_ids[1 + floor(s.ra * cardinality(ag.all_ids))::int])
           END AS agent_id,
           s.at + (0.005 + 2.0 * s.rt * s.ra) * interval '1 second' AS started,
           CASE WHEN s.domain = 'general' AND s.ran THEN (300 + floor(1700 * s.rt))::bigint ELSE 0 END AS tokens
    FROM s, ag
), ins AS (
    INSERT INTO agents.tasks (id, title, description, domain, priority, status, agent_id, input_data, output_data,
                              error_message, progress, attempts, tokens_used, cost, created_at, started_at, completed_at,
                              timeout_seconds, max_attempts, lease)
    SELECT r.id,
           (CASE r.domain
                WHEN 'finance' THEN (ARRAY['Quarterly margin review', 'Cash flow check', 'Investment ROI'])[1 + (r.i % 3)::int]
                WHEN 'sales' THEN (ARRAY['Revenue forecast', 'Pipeline forecast', 'Seasonal demand'])[1 + (r.i % 3)::int]
                WHEN 'marketing' THEN (ARRAY['Customer segments', 'Churn risk segments', 'Campaign audience'])[1 + (r.i % 3)::int]
                WHEN 'analytics' THEN (ARRAY['Regional sales analysis', 'Returns correlation', 'KPI summary'])[1 + (r.i % 3)::int]
                WHEN 'operations' THEN (ARRAY['Order volume forecast', 'Warehouse throughput', 'Supplier delays'])[1 + (r.i % 3)::int]
                ELSE (ARRAY['Board summary', 'Risk memo', 'Customer email draft'])[1 + (r.i % 3)::int] END) || ' #' || r.i,
           'Seeded ' || r.domain || ' task ' || r.i,
           r.domain, r.priority, r.status,
           CASE WHEN r.status = 'processing' THEN NULL ELSE r.agent_id END,
           CASE r.domain
               WHEN 'finance' THEN jsonb_build_object('analysis_type', 'general', 'data', jsonb_build_array(
                   jsonb_build_object('period', '2026-Q1', 'revenue', 100000 + r.i % 50000, 'costs', 80000 + r.i % 20000),
                   jsonb_build_object('period', '2026-Q2', 'revenue', 110000 + r.i % 50000, 'costs', 85000 + r.i % 20000)))
               WHEN 'sales' THEN jsonb_build_object('series', jsonb_build_array(112 + r.i % 13, 118, 132, 129 + r.i % 7, 121, 135, 148, 148), 'horizon', 3)
               WHEN 'operations' THEN jsonb_build_object('series', jsonb_build_array(40 + r.i % 11, 44, 51, 47, 55 + r.i % 5, 58), 'horizon', 2)
               WHEN 'marketing' THEN jsonb_build_object('customers', jsonb_build_array(
                   jsonb_build_object('customer_id', 'c-' || r.i % 1000, 'last_purchase_date', '2026-11-20', 'frequency', 1 + r.i % 20, 'monetary', 40 + r.i % 5000),
                   jsonb_build_object('customer_id', 'c-' || (r.i + 1) % 1000, 'last_purchase_date', '2026-06-02', 'frequency', 2, 'monetary', 180)))
               WHEN 'analytics' THEN jsonb_build_object('rows', jsonb_build_array(
                   jsonb_build_object('region', 'north', 'orders', 100 + r.i % 50, 'revenue', 15800),
                   jsonb_build_object('region', 'south', 'orders', 95, 'revenue', 11200 + r.i % 900)))
               ELSE jsonb_build_object('prompt', 'Summarise the main risks in our figures for the board, case ' || r.i)
           END,
           CASE WHEN r.status = 'completed' THEN jsonb_build_object('summary', r.tool || ' finished for task ' || r.i, 'tool', r.tool,
                                                                     'report', '## Summary' || chr(10) || 'Seeded result ' || r.i) END,
           CASE r.status WHEN 'failed' THEN r.tool || ': the input has too few points to analyse (attempt 3 of 3)'
                         WHEN 'cancelled' THEN 'cancelled' END,
           CASE r.status WHEN 'completed' THEN 100 WHEN 'pending' THEN 0 ELSE floor(90 * r.rt)::int END::smallint,
           CASE WHEN r.status = 'failed' THEN 3 WHEN r.ran OR r.status = 'processing' THEN 1 ELSE 0 END,
           r.tokens, (r.tokens * 0.000002)::numeric(14, 6),
           r.at,
           CASE WHEN r.ran OR r.status = 'processing' THEN r.started END,
           CASE WHEN r.status IN ('completed', 'failed') THEN r.started + r.secs * interval '1 second'
                WHEN r.status = 'cancelled' THEN r.started + r.secs * r.ra * interval '1 second' END,
           CASE WHEN r.domain = 'general' THEN 600 ELSE 300 END, 3,
           CASE WHEN r.ran OR r.status = 'processing' THEN 1 ELSE 0 END
    FROM r
    ON CONFLICT (id) DO NOTHING
    RETURNING id, domain, status, agent_id, created_at, started_at, completed_at, tokens_used, cost, error_message
), x AS (
    -- The tool run of each task that ran.
    SELECT ins.*, md5('bizmcp-seed-exec-' || ins.id)::uuid AS exec_id,
           CASE ins.domain WHEN 'finance' THEN 'financial_analyzer' WHEN 'sales' THEN 'sales_forecaster'
                WHEN 'marketing' THEN 'customer_segmenter' WHEN 'analytics' THEN 'data_analyzer'
                WHEN 'operations' THEN 'data_analyzer' ELSE 'llm_processor' END AS tool
    FROM ins WHERE ins.started_at IS NOT NULL AND ins.completed_at IS NOT NULL
), exec AS (
    INSERT INTO mcp.tool_executions (id, tool_name, agent_id, task_id, source, parameters, result, error,
                                     execution_time_ms, tokens_used, cost, created_at)
    SELECT x.exec_id, x.tool, x.agent_id, x.id, 'agent', '{"seeded": true}'::jsonb,
           CASE WHEN x.status = 'failed' THEN NULL ELSE jsonb_build_object('summary', x.tool || ' ran') END,
           CASE WHEN x.status = 'failed' THEN x.error_message END,
           greatest(1, floor(extract(epoch FROM x.completed_at - x.started_at) * 1000))::int,
           x.tokens_used, x.cost, x.started_at + interval '2 milliseconds'
    FROM x
    RETURNING id
), ev AS (
    INSERT INTO agents.task_events (task_id, type, message, data, created_at)
    SELECT ins.id, 'created', 'task created', jsonb_build_object('domain', ins.domain), ins.created_at FROM ins
    UNION ALL
    SELECT x.id, 'tool_call', x.tool, jsonb_build_object('tool', x.tool, 'execution_id', x.exec_id, 'summary', x.tool || ' ran'),
           x.started_at + interval '2 milliseconds'
    FROM x
    UNION ALL
    SELECT ins.id, ins.status, coalesce(ins.error_message, ins.status), jsonb_build_object('attempt', 1), ins.completed_at
    FROM ins WHERE ins.status IN ('completed', 'failed', 'cancelled')
    RETURNING id
), msg AS (
    -- One task in twenty was delegated: a request to its agent and the
    -- agent's response, from another agent.
    INSERT INTO agents.messages (id, sender_id, recipient_id, type, correlation_id, task_id, payload, created_at, delivered_at)
    SELECT md5('bizmcp-seed-msg-' || m.kind || ins.id)::uuid,
           CASE m.kind WHEN 'request' THEN ag.all_ids[1 + floor(random() * cardinality(ag.all_ids))::int] ELSE ins.agent_id END,
           CASE m.kind WHEN 'request' THEN ins.agent_id ELSE ag.all_ids[1 + floor(random() * cardinality(ag.all_ids))::int] END,
           m.kind, ins.id, ins.id, jsonb_build_object('task', jsonb_build_object('domain', ins.domain)),
           CASE m.kind WHEN 'request' THEN ins.created_at ELSE ins.completed_at END,
           CASE m.kind WHEN 'request' THEN ins.started_at ELSE ins.completed_at END
    FROM ins CROSS JOIN ag CROSS JOIN (VALUES ('request'), ('response')) AS m (kind)
    WHERE ins.agent_id IS NOT NULL AND ins.completed_at IS NOT NULL AND ins.started_at IS NOT NULL
      AND get_byte(decode(replace(ins.id::text, '-', ''), 'hex'), 0) < 13
    RETURNING id
), counted AS (
    UPDATE agents.agents AS a
    SET tasks_completed = a.tasks_completed + c.completed, tasks_failed = a.tasks_failed + c.failed
    FROM (SELECT agent_id, count(*) FILTER (WHERE status = 'completed') AS completed,
                 count(*) FILTER (WHERE status = 'failed') AS failed
          FROM ins WHERE agent_id IS NOT NULL GROUP BY agent_id) AS c
    WHERE a.id = c.agent_id
    RETURNING a.id
)
SELECT (SELECT count(*) FROM ins)::bigint AS tasks,
       (SELECT count(*) FROM ev)::bigint AS events,
       (SELECT count(*) FROM exec)::bigint AS executions,
       (SELECT count(*) FROM msg)::bigint AS messages;

-- SeedAnalyze refreshes the planner's statistics after a large seeding, so
-- the next queries pick their indexes at once instead of after autovacuum.
-- name: SeedAnalyze :exec
ANALYZE agents.tasks, agents.task_events, mcp.tool_executions, agents.messages, agents.agents;
