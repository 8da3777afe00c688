package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

type execJSON struct {
	ID         string          `json:"id"`
	ToolName   string          `json:"tool_name"`
	Source     string          `json:"source"`
	Status     string          `json:"status"`
	Result     json.RawMessage `json:"result"`
	Error      string          `json:"error"`
	DurationMS *int            `json:"execution_time_ms"`
}

func TestRESTToolCatalogue(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/tools", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var list struct {
		Items []struct {
			Name, Status, Description string
			Scope                     string          `json:"required_scope"`
			InputSchema               json.RawMessage `json:"input_schema"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Items, 6)
	for _, tool := range list.Items {
		require.Equal(t, "active", tool.Status)
		require.Contains(t, string(tool.InputSchema), `"type":"object"`)
	}
}

func TestRESTExecute(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	body := `{"tool_name":"data_analyzer","parameters":{"rows":[{"v":1},{"v":2},{"v":3},{"v":100}]}}`
	resp, b := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(body))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var exec execJSON
	require.NoError(t, json.Unmarshal(b, &exec))
	require.Equal(t, "completed", exec.Status)
	require.Equal(t, "rest", exec.Source)
	require.NotNil(t, exec.DurationMS)
	// mean (1+2+3+100)/4 = 26.5
	require.Contains(t, string(exec.Result), `"mean":26.5`)

	resp, b = srv.Do(t, http.MethodGet, "/api/v1/tools/executions/"+exec.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var again execJSON
	require.NoError(t, json.Unmarshal(b, &again))
	require.Equal(t, exec.ID, again.ID)
	require.JSONEq(t, string(exec.Result), string(again.Result))

	// Bad arguments are refused with 400, and the refused run is recorded.
	resp, b = srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(`{"tool_name":"sales_forecaster","parameters":{"series":[1,"x"]}}`))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
	var prob struct {
		Detail      string `json:"detail"`
		ExecutionID string `json:"execution_id"`
	}
	require.NoError(t, json.Unmarshal(b, &prob))
	require.Contains(t, prob.Detail, "invalid arguments for sales_forecaster")
	require.NotEmpty(t, prob.ExecutionID)

	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"tool_name":"nope","parameters":{}}`, 404, "available tools are"},
		{`{"parameters":{}}`, 400, "tool_name is required"},
		{`{"tool_name":"data_analyzer","parameters":"csv"}`, 400, "must be a JSON object"},
		{`{"tool_name":"data_analyzer","params":{}}`, 400, `unknown field "params"`},
		{`{"tool_name":"llm_processor","parameters":{"prompt":"x"}}`, 503, "no LLM provider configured"},
	} {
		resp, b := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(tc.body))
		require.Equal(t, tc.status, resp.StatusCode, "%s: %s", tc.body, b)
		require.Contains(t, problem(t, resp, b).Detail, tc.want)
	}

	readKey := testkit.CreateKey(t, srv.Env, "reader", "read")
	resp, _ = srv.Do(t, http.MethodPost, "/api/v1/tools/execute", readKey, strings.NewReader(body))
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestRESTDisabledTool(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	resp, b := srv.Do(t, http.MethodPatch, "/api/v1/admin/tools/report_generator", srv.AdminKey, strings.NewReader(`{"status":"disabled"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"status":"disabled"`)

	body := `{"tool_name":"report_generator","parameters":{"title":"t","sections":[{"heading":"h","content":"c"}]}}`
	resp, b = srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(body))
	require.Equal(t, http.StatusConflict, resp.StatusCode, string(b))
	require.Contains(t, problem(t, resp, b).Detail, "disabled")

	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)
	res := callTool(t, s, "report_generator", map[string]any{"title": "t", "sections": []map[string]any{{"heading": "h", "content": "c"}}})
	require.True(t, res.IsError)
	require.Contains(t, text(res), "disabled")

	resp, b = srv.Do(t, http.MethodPatch, "/api/v1/admin/tools/report_generator", srv.AdminKey, strings.NewReader(`{"status":"broken"}`))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
	resp, _ = srv.Do(t, http.MethodPatch, "/api/v1/admin/tools/nope", srv.AdminKey, strings.NewReader(`{"status":"active"}`))
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = srv.Do(t, http.MethodPatch, "/api/v1/admin/tools/report_generator", srv.AdminKey, strings.NewReader(`{"status":"active"}`))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(body))
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestRESTExecutionHistory(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	writer := testkit.CreateKey(t, srv.Env, "writer", "read,write")
	for i := range 3 {
		resp, b := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey,
			strings.NewReader(fmt.Sprintf(`{"tool_name":"sales_forecaster","parameters":{"series":[1,2,%d]}}`, i+3)))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	}
	resp, _ := srv.Do(t, http.MethodPost, "/api/v1/tools/execute", srv.AdminKey, strings.NewReader(`{"tool_name":"sales_forecaster","parameters":{"series":[]}}`))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = srv.Do(t, http.MethodPost, "/api/v1/tools/execute", writer, strings.NewReader(`{"tool_name":"data_analyzer","parameters":{"csv":"a\n1\n"}}`))
	require.Equal(t, http.StatusOK, resp.StatusCode)

	page := func(key, query string) (items []execJSON, next string) {
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/tools/executions"+query, key, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		var p struct {
			Items      []execJSON `json:"items"`
			NextCursor string     `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(b, &p))
		return p.Items, p.NextCursor
	}
	all, _ := page(srv.AdminKey, "")
	require.Len(t, all, 5)
	failed, _ := page(srv.AdminKey, "?failed=true")
	require.Len(t, failed, 1)
	require.Equal(t, "failed", failed[0].Status)
	forecasts, next := page(srv.AdminKey, "?tool=sales_forecaster&limit=2")
	require.Len(t, forecasts, 2)
	require.NotEmpty(t, next)
	rest, next2 := page(srv.AdminKey, "?tool=sales_forecaster&limit=2&cursor="+next)
	require.Len(t, rest, 2)
	require.Empty(t, next2)
	require.NotEqual(t, forecasts[0].ID, rest[0].ID)

	own, _ := page(writer, "")
	require.Len(t, own, 1, "a non-admin key sees its own calls only")
	require.Equal(t, "data_analyzer", own[0].ToolName)
	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/tools/executions/"+forecasts[0].ID, writer, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	for _, q := range []string{"?tool=nope", "?source=fax", "?failed=maybe", "?task_id=12", "?limit=0x10"} {
		resp, b := srv.Do(t, http.MethodGet, "/api/v1/tools/executions"+q, srv.AdminKey, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		problem(t, resp, b)
	}
}
