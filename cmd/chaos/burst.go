package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// planInputs are tasks whose plan is deterministic (the domain's tool, then
// report_generator): exactly two tool executions each when run once.
var planInputs = []struct{ domain, input string }{
	{"finance", `{"data":[{"period":"Q1","revenue":100,"costs":60},{"period":"Q2","revenue":120,"costs":70},{"period":"Q3","revenue":130,"costs":72}]}`},
	{"sales", `{"series":[10,12,14,13,16,18,17,20],"horizon":3}`},
	{"analytics", `{"rows":[{"x":1,"y":2},{"x":2,"y":4},{"x":3,"y":7},{"x":4,"y":8}]}`},
	{"marketing", `{"customers":[{"customer_id":"a","last_purchase_date":"2026-01-01","frequency":3,"monetary":30},{"customer_id":"b","last_purchase_date":"2026-03-01","frequency":9,"monetary":300}]}`},
	{"operations", `{"csv":"units,cost\n5,10\n7,13\n9,17\n"}`},
}

// addAgents gives every plan domain perDomain agents (one is seeded), so a
// burst keeps both instances' workers busy.
func addAgents(ctx context.Context, in *instance, key string, perDomain int) error {
	for _, p := range planInputs {
		for i := 1; i < perDomain; i++ {
			if _, err := postJSON(ctx, in, key, "/api/v1/admin/agents", fmt.Sprintf(`{"name":"%s chaos %d","type":%q}`, p.domain, i, p.domain)); err != nil {
				return err
			}
		}
	}
	return nil
}

// postBurst posts n plan tasks spread over the instances from 16 clients
// and returns their ids.
func postBurst(ctx context.Context, insts []*instance, key string, n int) ([]string, time.Duration, error) {
	ids := make([]string, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				p := planInputs[i%len(planInputs)]
				out, err := postJSON(ctx, insts[i%len(insts)], key, "/api/v1/resources/tasks",
					fmt.Sprintf(`{"title":"Chaos %d","domain":%q,"input_data":%s}`, i, p.domain, p.input))
				if err == nil {
					id, _ := out["task_id"].(string)
					ids[i] = id
					continue
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	return ids, time.Since(t0), firstErr
}

// countDone counts the tasks that have ended.
func countDone(ctx context.Context, conn *pgx.Conn, ids []string) (int, error) {
	var n int
	err := conn.QueryRow(ctx, "SELECT count(*) FROM agents.tasks WHERE id = ANY($1::uuid[]) AND status IN ('completed', 'failed', 'cancelled')", ids).Scan(&n)
	return n, err
}

// waitDone waits until at least want of the tasks have ended; database
// errors (an outage) are waited out.
func waitDone(ctx context.Context, conn func(context.Context) (*pgx.Conn, error), ids []string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var c *pgx.Conn
	defer func() {
		if c != nil {
			c.Close(context.Background())
		}
	}()
	last := -1
	for time.Now().Before(deadline) {
		if c == nil {
			c, _ = conn(ctx)
		}
		if c != nil {
			n, err := countDone(ctx, c, ids)
			if err != nil {
				c.Close(context.Background())
				c = nil
			} else {
				last = n
				if n >= want {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("only %d of %d tasks ended within %s", last, want, timeout)
}

// onceFigures are the exactly-once counts of a burst.
type onceFigures struct {
	completed, failed, completedEvents, executions, okExecutions, wrongTasks, busyAgents int
	wrong                                                                                []string
}

func exactlyOnce(ctx context.Context, conn *pgx.Conn, ids []string) (onceFigures, error) {
	var f onceFigures
	err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed')
		FROM agents.tasks WHERE id = ANY($1::uuid[])`, ids).Scan(&f.completed, &f.failed)
	if err != nil {
		return f, err
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM agents.task_events WHERE task_id = ANY($1::uuid[]) AND type = 'completed'", ids).Scan(&f.completedEvents); err != nil {
		return f, err
	}
	if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE error IS NULL) FROM mcp.tool_executions WHERE task_id = ANY($1::uuid[])", ids).Scan(&f.executions, &f.okExecutions); err != nil {
		return f, err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM agents.tasks t WHERE t.id = ANY($1::uuid[])
		AND (SELECT count(*) FROM mcp.tool_executions e WHERE e.task_id = t.id) <> 2`, ids).Scan(&f.wrongTasks); err != nil {
		return f, err
	}
	err = conn.QueryRow(ctx, "SELECT count(*) FROM agents.agents WHERE status = 'busy' OR current_task_id IS NOT NULL").Scan(&f.busyAgents)
	if err == nil && f.wrongTasks > 0 {
		f.wrong = explainWrong(ctx, conn, ids)
	}
	return f, err
}

// explainWrong describes the tasks whose executions are not two: their runs
// and timeline, for the drill's log.
func explainWrong(ctx context.Context, conn *pgx.Conn, ids []string) []string {
	rows, err := conn.Query(ctx, `SELECT t.id::text, t.lease,
		(SELECT string_agg(e.tool_name || '@' || e.created_at::time::text || coalesce(' ' || e.error, ''), ', ' ORDER BY e.created_at) FROM mcp.tool_executions e WHERE e.task_id = t.id),
		(SELECT string_agg(ev.created_at::time::text || ' ' || ev.type || ': ' || ev.message, ' | ' ORDER BY ev.id) FROM agents.task_events ev WHERE ev.task_id = t.id)
		FROM agents.tasks t WHERE t.id = ANY($1::uuid[]) AND (SELECT count(*) FROM mcp.tool_executions e WHERE e.task_id = t.id) <> 2 LIMIT 5`, ids)
	if err != nil {
		return []string{err.Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, runs, timeline string
		var lease int64
		if rows.Scan(&id, &lease, &runs, &timeline) == nil {
			out = append(out, fmt.Sprintf("task %s (lease %d): runs %s; timeline %s", id, lease, runs, timeline))
		}
	}
	return out
}

func (f onceFigures) report(r *report, n int) {
	r.figure("tasks completed / failed", "%d / %d of %d", f.completed, f.failed, n)
	r.figure("completion events", "%d", f.completedEvents)
	r.figure("tool executions (successful)", "%d (%d); expected %d", f.executions, f.okExecutions, 2*n)
	r.check(f.completed == n, "every task completed")
	r.check(f.completedEvents == n, "each completed exactly once (one completion event per task)")
	r.check(f.wrongTasks == 0 && f.executions == 2*n, "each task's two tool calls in mcp.tool_executions exactly once (%d tasks differ)", f.wrongTasks)
	for _, w := range f.wrong {
		r.figure("differs", "%s", w)
	}
	r.check(f.busyAgents == 0, "no agent left busy (%d)", f.busyAgents)
}
