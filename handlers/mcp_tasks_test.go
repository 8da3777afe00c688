package handlers_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

func TestMCPOrchestration(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	var mu sync.Mutex
	var progress []float64
	s := testkit.MCPClient(t, srv, srv.AdminKey, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, req.Params.Progress)
			mu.Unlock()
		},
	})
	ctx := context.Background()

	params := &mcp.CallToolParams{Name: "create_task", Arguments: map[string]any{
		"title": "Forecast Q3", "domain": "sales", "priority": "critical", "wait": true, "wait_seconds": 60,
		"input_data": map[string]any{"series": []float64{10, 12, 14, 16, 18}, "horizon": 1},
	}}
	params.SetProgressToken("task-1")
	res, err := s.CallTool(ctx, params)
	require.NoError(t, err)
	var done struct {
		Task struct {
			ID         string          `json:"id"`
			Status     string          `json:"status"`
			OutputData json.RawMessage `json:"output_data"`
		} `json:"task"`
		Timeline []struct{ Type string } `json:"timeline"`
	}
	structured(t, res, &done)
	require.Equal(t, "completed", done.Task.Status)
	require.Contains(t, string(done.Task.OutputData), `"value":20`)
	require.NotEmpty(t, done.Timeline)
	// Notifications reach the handler asynchronously, possibly after the
	// result: wait for the last one. Never hold mu across an assertion: a
	// failing one would leave the handler blocked and the session unclosable.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(progress) > 0 && progress[len(progress)-1] == 100
	}, 10*time.Second, 20*time.Millisecond, "progress while waiting, ending at 100")

	res = callTool(t, s, "get_task", map[string]any{"task_id": done.Task.ID})
	require.False(t, res.IsError, text(res))
	res = callTool(t, s, "get_task", map[string]any{"task_id": "nope"})
	require.True(t, res.IsError)
	require.Contains(t, text(res), "not a UUID")
	res = callTool(t, s, "list_tasks", map[string]any{"status": "completed"})
	var list struct {
		Items []struct{ ID string } `json:"items"`
	}
	structured(t, res, &list)
	require.Len(t, list.Items, 1)
	res = callTool(t, s, "list_agents", map[string]any{"type": "sales"})
	var agents struct {
		Items []struct {
			Type           string `json:"type"`
			TasksCompleted int    `json:"tasks_completed"`
		} `json:"items"`
	}
	structured(t, res, &agents)
	require.Equal(t, 1, agents.Items[0].TasksCompleted)

	// Without waiting: the task id at once; then cancel it.
	res = callTool(t, s, "create_task", map[string]any{"title": "Later", "domain": "unknown-domain"})
	require.True(t, res.IsError)
	require.Contains(t, text(res), "known domains")

	r, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bizmcp://tasks/" + done.Task.ID})
	require.NoError(t, err)
	require.Contains(t, r.Contents[0].Text, `"timeline"`)
	r, err = s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bizmcp://agents"})
	require.NoError(t, err)
	require.Contains(t, r.Contents[0].Text, `"type": "finance"`)

	reader := testkit.MCPClient(t, srv, testkit.CreateKey(t, srv.Env, "reader", "read"), nil)
	res = callTool(t, reader, "create_task", map[string]any{"title": "x", "domain": "sales"})
	require.True(t, res.IsError)
	require.Contains(t, text(res), `"write" scope`)
}
