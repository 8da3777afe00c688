package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// An analytics task asks finance for margins and sales for a forecast: two
// request messages, two sub-tasks on those agents, two responses, and a
// combined report.
func TestDelegation(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	id := postTask(t, srv, `{"title":"Business outlook","domain":"analytics","input_data":{
		"rows":[{"month":1,"sales":10},{"month":2,"sales":12},{"month":3,"sales":15}],
		"delegate":[
			{"domain":"finance","title":"Margins","input_data":{"data":[{"period":"Q1","revenue":100,"costs":75},{"period":"Q2","revenue":120,"costs":84}]}},
			{"domain":"sales","title":"Forecast","input_data":{"series":[10,12,14,16],"horizon":2}}
		]}}`)
	task := waitTask(t, srv, id, "completed", "failed")
	require.Equal(t, "completed", task.Status, "error: %v", task.Error)
	var out struct {
		Children []struct {
			TaskID string          `json:"task_id"`
			Domain string          `json:"domain"`
			Status string          `json:"status"`
			Output json.RawMessage `json:"output"`
		} `json:"children"`
		Tool   string `json:"tool"`
		Report string `json:"report"`
	}
	require.NoError(t, json.Unmarshal(task.OutputData, &out))
	require.Len(t, out.Children, 2)
	require.Equal(t, "finance", out.Children[0].Domain)
	require.Equal(t, "completed", out.Children[0].Status)
	require.Contains(t, string(out.Children[0].Output), `"margin_pct":25`)
	require.Equal(t, "sales", out.Children[1].Domain)
	require.Contains(t, string(out.Children[1].Output), `"value":18`)
	require.Equal(t, "data_analyzer", out.Tool, "the analytics agent did its own part too")
	require.Contains(t, out.Report, "## finance: Margins")
	require.Contains(t, out.Report, "## sales: Forecast")

	// The sub-tasks name their parent and ran on the agents asked.
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks?parent_task_id="+id, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var kids struct{ Items []taskJSON }
	require.NoError(t, json.Unmarshal(b, &kids))
	require.Len(t, kids.Items, 2)

	// Messages: a request to each part's agent and a response back, all
	// delivered; stored rows are the source of truth.
	rows, err := dbConn(t, srv).Query(context.Background(),
		"SELECT type, delivered_at IS NOT NULL FROM agents.messages WHERE correlation_id IN (SELECT id FROM agents.tasks WHERE parent_task_id = $1) ORDER BY created_at", id)
	require.NoError(t, err)
	var types []string
	for rows.Next() {
		var typ string
		var delivered bool
		require.NoError(t, rows.Scan(&typ, &delivered))
		require.True(t, delivered, "%s not delivered", typ)
		types = append(types, typ)
	}
	require.ElementsMatch(t, []string{"request", "request", "response", "response"}, types)

	analytics := listAgents(t, srv, "?type=analytics")[0]
	resp, b = srv.Do(t, http.MethodGet, "/api/v1/admin/agents/"+analytics.ID+"/messages", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var inbox struct {
		Items []struct {
			Type     string  `json:"type"`
			SenderID *string `json:"sender_id"`
		}
	}
	require.NoError(t, json.Unmarshal(b, &inbox))
	require.Len(t, inbox.Items, 4, "two requests sent, two responses received")
}

// With a single task worker, a task waiting for its delegated parts gives
// the worker up, so the parts run on it and the task completes; its
// timeline says what it waited for. (A task holding its worker while it
// waited would never let its parts start.)
func TestDelegationWithOneWorker(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t, testkit.WithEnv("TASK_WORKERS", "1"))
	id := postTask(t, srv, `{"title":"Business outlook","domain":"analytics","timeout_seconds":60,"input_data":{
		"rows":[{"month":1,"sales":10},{"month":2,"sales":12}],
		"delegate":[
			{"domain":"finance","title":"Margins","input_data":{"data":[{"period":"Q1","revenue":100,"costs":75}]}},
			{"domain":"sales","title":"Forecast","input_data":{"series":[10,12,14,16],"horizon":2}}
		]}}`)
	task := waitTask(t, srv, id, "completed", "failed")
	require.Equal(t, "completed", task.Status, "error: %v", task.Error)
	require.Equal(t, 1, task.Attempts, "waiting spent no attempt")

	resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks/"+id+"/events", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Contains(t, string(b), "waiting for delegated parts (0 of 2 done)")
	require.Contains(t, string(b), "all 2 delegated parts have ended")
}

func TestDelegationToMissingDomainFails(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	finance := listAgents(t, srv, "?type=finance")[0]
	resp, _ := srv.Do(t, http.MethodPatch, "/api/v1/admin/agents/"+finance.ID, srv.AdminKey, strings.NewReader(`{"status":"paused"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := postTask(t, srv, `{"title":"x","domain":"analytics","input_data":{"delegate":[{"domain":"finance","input_data":{"data":[]}}]}}`)
	task := waitTask(t, srv, id, "failed", "completed")
	require.Equal(t, "failed", task.Status)
	require.Contains(t, *task.Error, `no other active "finance" agent`)
}

func TestSendMessages(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	sales := listAgents(t, srv, "?type=sales")[0]
	resp, b := srv.Do(t, http.MethodPost, "/api/v1/admin/agents/"+sales.ID+"/messages", srv.AdminKey,
		strings.NewReader(`{"type":"request","payload":{"task":{"title":"Next quarter","input_data":{"series":[5,6,7]}}}}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var m struct {
		ID     string  `json:"id"`
		TaskID *string `json:"task_id"`
		Type   string  `json:"type"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotNil(t, m.TaskID)
	task := waitTask(t, srv, *m.TaskID, "completed", "failed")
	require.Equal(t, "completed", task.Status)
	require.Equal(t, sales.ID, *task.AgentID, "the request's recipient did the work")

	resp, b = srv.Do(t, http.MethodPost, "/api/v1/admin/agents/"+sales.ID+"/messages", srv.AdminKey,
		strings.NewReader(`{"type":"notification","payload":{"text":"<script>alert(1)</script> price list updated"}}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"delivered_at":"`)

	for _, tc := range []struct {
		path, body string
		status     int
		want       string
	}{
		{sales.ID, `{"type":"gossip","payload":{}}`, 400, "not one of request, response, notification"},
		{sales.ID, `{"type":"request","payload":{"hello":1}}`, 400, "must hold the task"},
		{sales.ID, `{"type":"notification","payload":[1]}`, 400, "payload must be a JSON object"},
		{sales.ID, `{"type":"notification","payload":{},"sender_id":"x"}`, 400, "not a UUID"},
		{"01234567-89ab-7def-8123-456789abcdef", `{"type":"notification","payload":{}}`, 404, "not found"},
	} {
		resp, b := srv.Do(t, http.MethodPost, "/api/v1/admin/agents/"+tc.path+"/messages", srv.AdminKey, strings.NewReader(tc.body))
		require.Equal(t, tc.status, resp.StatusCode, "%s: %s", tc.body, b)
		require.Contains(t, problem(t, resp, b).Detail, tc.want)
	}
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)
	res := callTool(t, s, "send_agent_message", map[string]any{"agent_id": sales.ID, "type": "notification", "payload": map[string]any{"note": "hi"}})
	require.False(t, res.IsError, text(res))
}
