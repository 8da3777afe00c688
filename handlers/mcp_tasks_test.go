package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/mcphttp"
	"github.com/bizmcp/bizmcp/internal/mcptasks"
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

// sseListen is a raw 2026-07-28 subscriptions/listen stream: the Go SDK's
// client has no way to ask for task notifications (its filter knows only
// list changes and resources), so the test speaks the wire as the Tasks
// extension defines it.
type sseListen struct {
	status int
	msgs   chan map[string]any
	body   string // the whole answer when it is not a stream
}

func openListen(t *testing.T, srv *testkit.Server, key string, notifications map[string]any, withTasks bool) *sseListen {
	t.Helper()
	caps := map[string]any{}
	if withTasks {
		caps["extensions"] = map[string]any{mcptasks.ExtensionID: map[string]any{}}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "listen-1", "method": "subscriptions/listen", "params": map[string]any{
		"notifications": notifications,
		"_meta":         map[string]any{"io.modelcontextprotocol/protocolVersion": mcphttp.Stateless, "io.modelcontextprotocol/clientCapabilities": caps},
	}})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/mcp", strings.NewReader(string(body)))
	require.NoError(t, err)
	for k, v := range map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json",
		"Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": mcphttp.Stateless, "Mcp-Method": "subscriptions/listen"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	l := &sseListen{status: resp.StatusCode, msgs: make(chan map[string]any, 64)}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		l.body = string(b)
		close(l.msgs)
		return l
	}
	go func() {
		defer close(l.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m map[string]any
				if json.Unmarshal([]byte(d), &m) == nil {
					l.msgs <- m
				}
			}
		}
	}()
	return l
}

// next returns the next message of the stream, nil when it ended.
func (l *sseListen) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case m := <-l.msgs:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no message on the listen stream within 30s")
		return nil
	}
}

// pauseAgents pauses every agent: a task then waits, working, for one.
func pauseAgents(t *testing.T, srv *testkit.Server) {
	t.Helper()
	for _, a := range listAgents(t, srv, "") {
		resp, b := srv.Do(t, http.MethodPatch, "/api/v1/admin/agents/"+a.ID, srv.AdminKey, strings.NewReader(`{"status":"paused"}`))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	}
}

// Task status notifications across instances: a client listening on
// instance B hears a task created and cancelled on instance A (the change
// reaches B as a task event through Redis), each notification the whole task
// as tasks/get would answer; once every task followed is over, the listen
// ends gracefully.
func TestMCPTaskNotificationsAcrossInstances(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	key := a.AdminKey
	pauseAgents(t, a)
	created, rpcErr := rpc2026(t, a, key, "tools/call", "create_task", map[string]any{"name": "create_task",
		"arguments": map[string]any{"title": "Waits for an agent", "domain": "operations", "input_data": map[string]any{"rows": []any{map[string]any{"x": 1}}}}}, true)
	require.Nil(t, rpcErr)
	handle := created["taskId"].(string)
	other := testkit.CreateKey(t, a.Env, "other", "read,write")

	l := openListen(t, b, key, map[string]any{"taskIds": []string{handle, "not-a-task"}}, true)
	require.Equal(t, http.StatusOK, l.status, l.body)
	ack := l.next(t)
	require.Equal(t, "notifications/subscriptions/acknowledged", ack["method"])
	params := ack["params"].(map[string]any)
	require.Equal(t, []any{handle}, params["notifications"].(map[string]any)["taskIds"], "only the caller's known tasks are agreed")
	require.Equal(t, "listen-1", params["_meta"].(map[string]any)["io.modelcontextprotocol/subscriptionId"])

	first := l.next(t)
	require.Equal(t, mcptasks.MethodNotifyTask, first["method"])
	task := first["params"].(map[string]any)
	require.Equal(t, handle, task["taskId"])
	require.Equal(t, "working", task["status"])
	require.Equal(t, "listen-1", task["_meta"].(map[string]any)["io.modelcontextprotocol/subscriptionId"])
	require.NotContains(t, task, "resultType", "a notification is not a result")

	// Cancelled on A, heard on B.
	_, rpcErr = rpc2026(t, a, key, "tasks/cancel", handle, map[string]any{"taskId": handle}, true)
	require.Nil(t, rpcErr)
	var last map[string]any
	for m := l.next(t); m != nil; m = l.next(t) {
		if m["method"] == mcptasks.MethodNotifyTask {
			last = m["params"].(map[string]any)
			continue
		}
		// The listen's result ends the stream once the task is over.
		require.Equal(t, "listen-1", m["id"], "the listen's own answer")
		require.Contains(t, m, "result")
		break
	}
	require.NotNil(t, last)
	require.Equal(t, "cancelled", last["status"])
	got, rpcErr := rpc2026(t, b, key, "tasks/get", handle, map[string]any{"taskId": handle}, true)
	require.Nil(t, rpcErr)
	require.Equal(t, last["status"], got["status"], "the notification says what tasks/get says")

	// Another key's task is not agreed to, with no hint it exists; the
	// listen has nothing to follow and ends at once.
	l = openListen(t, b, other, map[string]any{"taskIds": []string{handle}}, true)
	ack = l.next(t)
	require.NotContains(t, ack["params"].(map[string]any)["notifications"], "taskIds")
	require.Contains(t, l.next(t), "result")

	// Asking for task notifications without declaring the extension is
	// -32021; a filter that is not a list of ids, or too long, is -32602.
	for name, tc := range map[string]struct {
		filter    map[string]any
		withTasks bool
		code      string
	}{
		"no extension": {map[string]any{"taskIds": []string{handle}}, false, "-32021"},
		"not strings":  {map[string]any{"taskIds": []any{1, 2}}, true, "-32602"},
		"not a list":   {map[string]any{"taskIds": "abc"}, true, "-32602"},
		"too many":     {map[string]any{"taskIds": make([]string, mcptasks.MaxListenTasks+1)}, true, "-32602"},
	} {
		l := openListen(t, b, key, tc.filter, tc.withTasks)
		msg := l.body
		if msg == "" {
			m := l.next(t)
			raw, _ := json.Marshal(m)
			msg = string(raw)
		}
		require.Contains(t, msg, tc.code, name)
		require.NotContains(t, msg, "notifications/tasks", name)
	}
}
