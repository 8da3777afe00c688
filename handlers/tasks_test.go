package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

type taskJSON struct {
	ID          string          `json:"id"`
	Status      string          `json:"status"`
	Domain      string          `json:"domain"`
	AgentID     *string         `json:"agent_id"`
	OutputData  json.RawMessage `json:"output_data"`
	Error       *string         `json:"error_message"`
	Progress    int             `json:"progress"`
	Attempts    int             `json:"attempts"`
	StartedAt   *string         `json:"started_at"`
	CompletedAt *string         `json:"completed_at"`
}

type agentJSON struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Type           string  `json:"type"`
	Status         string  `json:"status"`
	CurrentTaskID  *string `json:"current_task_id"`
	TasksCompleted int     `json:"tasks_completed"`
	TasksFailed    int     `json:"tasks_failed"`
}

func postTask(t *testing.T, srv *testkit.Server, body string) string {
	t.Helper()
	resp, b := srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", srv.AdminKey, strings.NewReader(body))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var created struct {
		TaskID string `json:"task_id"`
		Status string `json:"status"`
	}
	require.NoError(t, json.Unmarshal(b, &created))
	require.Equal(t, "pending", created.Status)
	return created.TaskID
}

// getTask fetches a task; t may be an EventuallyWithT's *assert.CollectT.
func getTask(t require.TestingT, srv *testkit.Server, id string) taskJSON {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks/"+id, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var task taskJSON
	require.NoError(t, json.Unmarshal(b, &task))
	return task
}

func waitTask(t *testing.T, srv *testkit.Server, id string, statuses ...string) taskJSON {
	t.Helper()
	var task taskJSON
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		task = getTask(c, srv, id)
		assert.Contains(c, statuses, task.Status)
	}, 60*time.Second, 50*time.Millisecond, "task %s never reached %v", id, statuses)
	return task
}

// listAgents lists agents; t may be an EventuallyWithT's *assert.CollectT.
func listAgents(t require.TestingT, srv *testkit.Server, query string) []agentJSON {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/agents"+query, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var page struct{ Items []agentJSON }
	require.NoError(t, json.Unmarshal(b, &page))
	return page.Items
}

const financeTask = `{"title":"Quarterly review","domain":"finance","priority":"high",
 "input_data":{"data":[{"period":"Q1","revenue":100,"costs":75},{"period":"Q2","revenue":120,"costs":84}]}}`

func TestTaskRunsToCompletion(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	agents := listAgents(t, srv, "")
	require.Len(t, agents, 6, "one seeded agent per type")

	id := postTask(t, srv, financeTask)
	task := waitTask(t, srv, id, "completed", "failed")
	require.Equal(t, "completed", task.Status, "error: %v", task.Error)
	require.Equal(t, 100, task.Progress)
	require.Equal(t, 1, task.Attempts)
	require.NotNil(t, task.AgentID)
	require.NotNil(t, task.StartedAt)
	require.NotNil(t, task.CompletedAt)
	var out struct {
		Tool   string `json:"tool"`
		Result struct {
			Periods []struct {
				MarginPct float64 `json:"margin_pct"`
			} `json:"periods"`
		} `json:"result"`
		Report string `json:"report"`
	}
	require.NoError(t, json.Unmarshal(task.OutputData, &out))
	require.Equal(t, "financial_analyzer", out.Tool)
	require.Equal(t, 25.0, out.Result.Periods[0].MarginPct)
	require.Contains(t, out.Report, "# Quarterly review")

	// The finance agent ran it and is free again.
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/admin/agents/"+*task.AgentID, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var agent agentJSON
	require.NoError(t, json.Unmarshal(b, &agent))
	require.Equal(t, "finance", agent.Type)
	require.Equal(t, "idle", agent.Status)
	require.Nil(t, agent.CurrentTaskID)
	require.Equal(t, 1, agent.TasksCompleted)

	resp, b = srv.Do(t, http.MethodGet, "/api/v1/resources/tasks/"+id+"/events", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var timeline struct {
		Items []struct{ Type, Message string }
	}
	require.NoError(t, json.Unmarshal(b, &timeline))
	var types []string
	for _, e := range timeline.Items {
		types = append(types, e.Type)
	}
	require.Equal(t, "created", types[0])
	require.Equal(t, "assigned", types[1])
	require.Contains(t, types, "tool_call")
	require.Contains(t, types, "progress")
	require.Equal(t, "completed", types[len(types)-1])

	// The figures are in the metrics, read from the database.
	_, metrics := srv.Do(t, http.MethodGet, "/metrics", "", nil)
	require.Contains(t, string(metrics), `bizmcp_tasks{status="completed"} 1`)
	require.Contains(t, string(metrics), `bizmcp_agents{status="idle"} 6`)

	// Each tool call is recorded with the task and the agent.
	var n int
	require.NoError(t, dbConn(t, srv).QueryRow(context.Background(),
		"SELECT count(*) FROM mcp.tool_executions WHERE task_id = $1 AND agent_id = $2 AND source = 'agent'", id, *task.AgentID).Scan(&n))
	require.Equal(t, 2, n, "financial_analyzer, then report_generator")
}

func TestTaskBadInput(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	for _, tc := range []struct{ body, want string }{
		{`{"title":"x","domain":"astrology","input_data":{}}`, "known domains are finance, sales, marketing, analytics, operations, general"},
		{`{"title":"x","domain":"finance","priority":"urgent","input_data":{}}`, "use one of low, medium, high, critical"},
		{`{"title":"x","domain":"finance","input_data":[1,2]}`, "input_data must be a JSON object"},
		{`{"title":"x","domain":"finance","input_data":"text"}`, "input_data must be a JSON object"},
		{`{"domain":"finance","input_data":{}}`, "title is required"},
		{`{"title":"x","domain":"finance","timeout_seconds":-1}`, "timeout_seconds"},
		{`{"title":"x","domain":"finance","max_attempts":99}`, "max_attempts"},
		{`{"title":"x","domain":"finance","input_data":{},"extra":1}`, `unknown field "extra"`},
	} {
		resp, b := srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", srv.AdminKey, strings.NewReader(tc.body))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", tc.body, b)
		require.Contains(t, problem(t, resp, b).Detail, tc.want)
	}
	big := `{"title":"x","domain":"analytics","input_data":{"csv":"` + strings.Repeat("1,", 700_000) + `"}}`
	resp, _ := srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", srv.AdminKey, strings.NewReader(big))
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	for _, q := range []string{"?status=lost", "?domain=x", "?priority=p0", "?agent_id=7"} {
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks"+q, srv.AdminKey, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		problem(t, resp, b)
	}
	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/resources/tasks/01234567-89ab-7def-8123-456789abcdef", srv.AdminKey, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks/nope/cancel", srv.AdminKey, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	readKey := testkit.CreateKey(t, srv.Env, "reader", "read")
	resp, _ = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", readKey, strings.NewReader(financeTask))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// A task that cannot be done fails at once with a message a person can act
// on; its agent counts the failure and lives on.
func TestTaskWithUnusableInputFails(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	id := postTask(t, srv, `{"title":"No data","domain":"finance","input_data":{"numbers":[1,2]}}`)
	task := waitTask(t, srv, id, "failed", "completed")
	require.Equal(t, "failed", task.Status)
	require.Contains(t, *task.Error, `a finance task needs input_data {"data"`)
	require.Equal(t, 1, task.Attempts, "bad input is not retried")

	id = postTask(t, srv, `{"title":"Bad numbers","domain":"sales","input_data":{"series":[1]}}`)
	task = waitTask(t, srv, id, "failed", "completed")
	require.Contains(t, *task.Error, "series")

	id = postTask(t, srv, `{"title":"Ask","domain":"general","input_data":{"prompt":"hi"}}`)
	task = waitTask(t, srv, id, "failed", "completed")
	require.Contains(t, *task.Error, "no LLM provider configured")

	agents := listAgents(t, srv, "?type=sales")
	require.Equal(t, "idle", agents[0].Status)
	require.Equal(t, 1, agents[0].TasksFailed)
	// The server goes on running tasks.
	require.Equal(t, "completed", waitTask(t, srv, postTask(t, srv, financeTask), "completed", "failed").Status)
}

func TestTaskWaitsForAnAgentAndCancelRetry(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	// Pause every agent that could take a finance task.
	for _, a := range listAgents(t, srv, "") {
		resp, b := srv.Do(t, http.MethodPatch, "/api/v1/admin/agents/"+a.ID, srv.AdminKey, strings.NewReader(`{"status":"paused"}`))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	}
	id := postTask(t, srv, financeTask)
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, "pending", getTask(t, srv, id).Status, "a paused agent takes nothing")

	resp, b := srv.Do(t, http.MethodPost, "/api/v1/resources/tasks/"+id+"/retry", srv.AdminKey, nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(b))
	require.Contains(t, problem(t, resp, b).Detail, "only failed or cancelled")

	resp, b = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks/"+id+"/cancel", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Equal(t, "cancelled", getTask(t, srv, id).Status)
	resp, b = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks/"+id+"/cancel", srv.AdminKey, nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(b))
	require.Contains(t, problem(t, resp, b).Detail, "already cancelled")

	resp, b = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks/"+id+"/retry", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Equal(t, "pending", getTask(t, srv, id).Status)

	finance := listAgents(t, srv, "?type=finance")[0]
	resp, _ = srv.Do(t, http.MethodPatch, "/api/v1/admin/agents/"+finance.ID, srv.AdminKey, strings.NewReader(`{"status":"active"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	task := waitTask(t, srv, id, "completed", "failed")
	require.Equal(t, "completed", task.Status)
	require.Equal(t, finance.ID, *task.AgentID)
}

func TestCancelRunningTask(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	abandoned := make(chan struct{}, 1)
	fake := testkit.StartFakeLLM(t, func(_ http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
		abandoned <- struct{}{}
	})
	srv := testkit.StartServer(t, withFakeLLM(fake))
	id := postTask(t, srv, `{"title":"Essay","domain":"general","input_data":{"prompt":"write at length"}}`)
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("the task never reached the LLM")
	}
	require.Equal(t, "processing", getTask(t, srv, id).Status)

	// A busy agent cannot be deleted.
	general := listAgents(t, srv, "?type=general")[0]
	require.Equal(t, "busy", general.Status)
	resp, b := srv.Do(t, http.MethodDelete, "/api/v1/admin/agents/"+general.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(b))

	resp, b = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks/"+id+"/cancel", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	select {
	case <-abandoned:
	case <-time.After(30 * time.Second):
		t.Fatal("the running step did not see its context cancelled")
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		agents := listAgents(c, srv, "?type=general")
		require.NotEmpty(c, agents)
		assert.Equal(c, "idle", agents[0].Status)
		assert.Nil(c, agents[0].CurrentTaskID)
	}, 30*time.Second, 50*time.Millisecond, "the agent is freed")
	require.Equal(t, "cancelled", getTask(t, srv, id).Status)
	resp, _ = srv.Do(t, http.MethodDelete, "/api/v1/admin/agents/"+general.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func TestAgentsAPI(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	resp, b := srv.Do(t, http.MethodPost, "/api/v1/admin/agents", srv.AdminKey, strings.NewReader(`{"name":"Ops bot","type":"wizard"}`))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, problem(t, resp, b).Detail, "known types are finance, sales, marketing, analytics, operations, general")
	resp, b = srv.Do(t, http.MethodPost, "/api/v1/admin/agents", srv.AdminKey, strings.NewReader(`{"name":"x","type":"finance","capabilities":["rm_rf"]}`))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, problem(t, resp, b).Detail, `"rm_rf" is not a tool`)
	resp, b = srv.Do(t, http.MethodPost, "/api/v1/admin/agents", srv.AdminKey, strings.NewReader(`{"name":"<b>Second</b> finance","type":"finance","config":{"tone":"formal"}}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var a agentJSON
	require.NoError(t, json.Unmarshal(b, &a))
	require.NotEmpty(t, a.ID)
	require.Equal(t, "idle", a.Status)
	require.Equal(t, "<b>Second</b> finance", a.Name)

	resp, b = srv.Do(t, http.MethodPatch, "/api/v1/admin/agents/"+a.ID, srv.AdminKey, strings.NewReader(`{"name":"Renamed","status":"paused"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &a))
	require.Equal(t, "Renamed", a.Name)
	require.Equal(t, "paused", a.Status)
	resp, _ = srv.Do(t, http.MethodPatch, "/api/v1/admin/agents/"+a.ID, srv.AdminKey, strings.NewReader(`{"status":"busy"}`))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Len(t, listAgents(t, srv, "?status=paused"), 1)
	resp, _ = srv.Do(t, http.MethodDelete, "/api/v1/admin/agents/"+a.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/admin/agents/"+a.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	readKey := testkit.CreateKey(t, srv.Env, "reader", "read")
	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/admin/agents", readKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = srv.Do(t, http.MethodPost, "/api/v1/admin/agents", readKey, strings.NewReader(`{"name":"x","type":"sales"}`))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}
