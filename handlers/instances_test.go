package handlers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// Two instances on one PostgreSQL and Redis run 200 posted tasks between
// them, each exactly once.
func TestTwoInstancesRunEachTaskOnce(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	inputs := map[string]string{
		"finance":    `{"data":[{"period":"Q1","revenue":100,"costs":60},{"period":"Q2","revenue":110,"costs":70}]}`,
		"sales":      `{"series":[1,2,3,4,5],"horizon":2}`,
		"marketing":  `{"customers":[{"customer_id":"a","last_purchase_date":"2026-01-01","frequency":3,"monetary":30}]}`,
		"analytics":  `{"rows":[{"x":1,"y":2},{"x":2,"y":4},{"x":3,"y":7}]}`,
		"operations": `{"csv":"units\n5\n7\n9\n"}`,
	}
	domains := []string{"finance", "sales", "marketing", "analytics", "operations"}
	const n = 200
	for i := range n {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		d := domains[i%len(domains)]
		postTask(t, srv, fmt.Sprintf(`{"title":"Task %d","domain":%q,"input_data":%s}`, i, d, inputs[d]))
	}
	conn := dbConn(t, a)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		var done int
		return conn.QueryRow(ctx, "SELECT count(*) FROM agents.tasks WHERE status IN ('completed', 'failed', 'cancelled')").Scan(&done) == nil && done == n
	}, 5*time.Minute, 250*time.Millisecond)

	var completed, wrongCalls, completedEvents, counted int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM agents.tasks WHERE status = 'completed' AND attempts = 1").Scan(&completed))
	require.Equal(t, n, completed, "every task completed on its first attempt")
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM agents.tasks t
		WHERE (SELECT count(*) FROM mcp.tool_executions e WHERE e.task_id = t.id) <> 2`).Scan(&wrongCalls))
	require.Zero(t, wrongCalls, "each task ran its two tool calls exactly once")
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM agents.task_events WHERE type = 'completed'").Scan(&completedEvents))
	require.Equal(t, n, completedEvents)
	require.NoError(t, conn.QueryRow(ctx, "SELECT sum(tasks_completed) FROM agents.agents").Scan(&counted))
	require.Equal(t, n, counted, "the agents' counters agree")

	var workers int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind = 'bizmcp.task'").Scan(&workers))
	require.Equal(t, 2, workers, "both instances ran tasks")
}
