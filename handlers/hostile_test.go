package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// execProblemJSON is a problem document of a failed tool run.
type execProblemJSON struct {
	problemJSON
	ExecutionID string `json:"execution_id"`
}

// requireProblem asserts a problem+json answer with the status and a detail
// containing each of wants, and returns it.
func requireProblem(t *testing.T, resp *http.Response, body []byte, status int, wants ...string) execProblemJSON {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, string(body))
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), string(body))
	var p execProblemJSON
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	for _, w := range wants {
		require.Contains(t, p.Detail, w)
	}
	return p
}

// The families of hostile input found by hand (issue 8), each refused at
// its root with a 400 that names the field, never a 500: NUL characters,
// invalid UTF-8 and lone surrogates in stored text and JSON, numbers that
// wrap, an empty list where a value is required, output that grows far
// beyond the input, an error pointing to a record that does not exist, and
// rules that differ between create and update.
func TestHostileInputIsRefusedAtItsRoot(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	key := srv.AdminKey
	do := func(method, path, body string) (*http.Response, []byte) {
		var r *strings.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		if r == nil {
			return srv.Do(t, method, path, key, nil)
		}
		return srv.Do(t, method, path, key, r)
	}

	resp, b := do(http.MethodPost, "/api/v1/admin/agents", `{"name":"Target","type":"finance"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var agent struct {
		ID           string   `json:"id"`
		Name         string   `json:"name"`
		Description  string   `json:"description"`
		Capabilities []string `json:"capabilities"`
	}
	require.NoError(t, json.Unmarshal(b, &agent))
	agentPath := "/api/v1/admin/agents/" + agent.ID

	t.Run("NUL, invalid UTF-8 and lone surrogates name the field", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, body string
			wants              []string
		}{
			{"POST", "/api/v1/admin/agents", `{"name":"a\u0000b","type":"finance"}`, []string{"name contains a NUL character"}},
			{"POST", "/api/v1/admin/agents", `{"name":"a","type":"finance","description":"x\u0000"}`, []string{"description contains a NUL character"}},
			{"POST", "/api/v1/admin/agents", `{"name":"a","type":"finance","config":{"k":"\u0000"}}`, []string{"config.k contains a NUL character"}},
			{"POST", "/api/v1/admin/agents", `{"name":"a","type":"finance","config":{"k\u0000":1}}`, []string{"a key in config contains a NUL character"}},
			{"POST", "/api/v1/admin/agents", "{\"name\":\"a\",\"type\":\"finance\",\"config\":{\"k\":\"\xff\"}}", []string{"config.k is not valid UTF-8"}},
			{"POST", "/api/v1/admin/agents", `{"name":"a","type":"finance","config":{"k":["\ud800"]}}`, []string{"config.k[0] contains a lone UTF-16 high surrogate"}},
			{"PATCH", agentPath, `{"name":"b\u0000"}`, []string{"name contains a NUL character"}},
			{"PATCH", agentPath, `{"description":"\u0000"}`, []string{"description contains a NUL character"}},
			{"PATCH", agentPath, "{\"config\":{\"a\":\"\xc3\"}}", []string{"config.a is not valid UTF-8"}},
			{"POST", "/api/v1/resources/tasks", `{"title":"t\u0000","domain":"finance"}`, []string{"title contains a NUL character"}},
			{"POST", "/api/v1/resources/tasks", `{"title":"t","description":"\u0000","domain":"finance"}`, []string{"description contains a NUL character"}},
			{"POST", "/api/v1/resources/tasks", `{"title":"t","domain":"finance","input_data":{"data":[{"period":"\u0000"}]}}`, []string{"input_data.data[0].period contains a NUL character"}},
			{"POST", "/api/v1/resources/tasks", "{\"title\":\"t\",\"domain\":\"finance\",\"input_data\":{\"x\":\"\xed\xa0\x80\"}}", []string{"input_data.x is not valid UTF-8"}},
			{"POST", "/api/v1/resources/tasks", `{"title":"t","domain":"finance","input_data":{"x":"\udc00"}}`, []string{"input_data.x contains a lone UTF-16 low surrogate"}},
			{"POST", "/api/v1/resources/tasks", `{"title":"t","domain":"finance","input_data":{"x":1e999}}`, []string{"input_data.x is 1e999, beyond the range"}},
			{"POST", "/api/v1/resources/tasks", `{"title":"t","domain":"finance","input_data":{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, []string{"input_data.x", "more than 64 levels deep"}},
			{"POST", agentPath + "/messages", `{"type":"notification","payload":{"note":"\u0000"}}`, []string{"payload.note contains a NUL character"}},
			{"POST", agentPath + "/messages", "{\"type\":\"notification\",\"payload\":{\"note\":\"\xff\"}}", []string{"payload.note is not valid UTF-8"}},
			{"POST", agentPath + "/messages", `{"type":"request","payload":{"task":{"title":"\u0000"}}}`, []string{"payload.task.title contains a NUL character"}},
			{"POST", "/api/v1/admin/keys", `{"name":"k\u0000","scopes":["read"]}`, []string{"name must not contain control characters"}},
		} {
			resp, b := do(tc.method, tc.path, tc.body)
			t.Logf("%s %s %q: %s", tc.method, tc.path, tc.body, b)
			requireProblem(t, resp, b, http.StatusBadRequest, tc.wants...)
		}
	})

	t.Run("tool arguments are refused before they are recorded, and the record can be read", func(t *testing.T) {
		for _, params := range []string{
			`{"title":"a\u0000b"}`,
			"{\"title\":\"\xff\"}",
			`{"title":"\ud800"}`,
			`{"title":"T","sections":[{"heading":"H","data":{"k\u0000":1}}]}`,
		} {
			resp, b := do(http.MethodPost, "/api/v1/tools/execute", `{"tool_name":"report_generator","parameters":`+params+`}`)
			p := requireProblem(t, resp, b, http.StatusBadRequest, "arguments.")
			require.NotEmpty(t, p.ExecutionID, "the refused run is recorded")
			resp, b = do(http.MethodGet, "/api/v1/tools/executions/"+p.ExecutionID, "")
			require.Equal(t, http.StatusOK, resp.StatusCode, "execution_id %s points to a record: %s", p.ExecutionID, b)
			var exec struct {
				Status     string         `json:"status"`
				Parameters map[string]any `json:"parameters"`
				Error      string         `json:"error"`
			}
			require.NoError(t, json.Unmarshal(b, &exec))
			require.Equal(t, "failed", exec.Status)
			require.Contains(t, exec.Parameters["omitted"], "arguments.")
			require.Equal(t, p.Detail, exec.Error)
		}
	})

	t.Run("numbers are range-checked before they are converted", func(t *testing.T) {
		for _, n := range []string{"18446744075", "9223372036", "-1", "86401"} {
			resp, b := do(http.MethodPost, "/api/v1/resources/tasks", `{"title":"t","domain":"finance","timeout_seconds":`+n+`}`)
			requireProblem(t, resp, b, http.StatusBadRequest, "timeout_seconds "+n+" is out of range: use 1 to 86400")
		}
		resp, b := do(http.MethodPost, "/api/v1/resources/tasks", `{"title":"t","domain":"finance","timeout_seconds":1e30}`)
		requireProblem(t, resp, b, http.StatusBadRequest, "timeout_seconds")
	})

	t.Run("an empty capability list is stored as an empty list", func(t *testing.T) {
		resp, b := do(http.MethodPost, "/api/v1/admin/agents", `{"name":"No tools","type":"general","capabilities":[]}`)
		require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
		require.Contains(t, string(b), `"capabilities":[]`)
	})

	t.Run("report output is bounded", func(t *testing.T) {
		// 8 KB of nesting once rendered as 64 MB.
		nested := strings.Repeat("[", 4000) + strings.Repeat("]", 4000)
		resp, b := do(http.MethodPost, "/api/v1/tools/execute", `{"tool_name":"report_generator","parameters":{"title":"T","sections":[{"heading":"H","data":`+nested+`}]}}`)
		requireProblem(t, resp, b, http.StatusBadRequest, "more than 64 levels deep")
		nested = strings.Repeat("[", 40) + strings.Repeat("]", 40)
		resp, b = do(http.MethodPost, "/api/v1/tools/execute", `{"tool_name":"report_generator","parameters":{"title":"T","sections":[{"heading":"H","data":`+nested+`}]}}`)
		requireProblem(t, resp, b, http.StatusBadRequest, "sections[0].data nests objects and arrays 40 levels deep; the limit is 32")
		var rows []string
		for i := range 1000 {
			rows = append(rows, fmt.Sprintf(`{"k%d":1}`, i))
		}
		resp, b = do(http.MethodPost, "/api/v1/tools/execute", `{"tool_name":"report_generator","parameters":{"title":"T","sections":[{"heading":"H","data":[`+strings.Join(rows, ",")+`]}]}}`)
		requireProblem(t, resp, b, http.StatusRequestEntityTooLarge, "1000 rows × 1000 columns")
	})

	t.Run("update follows the rules of create, validates before it writes", func(t *testing.T) {
		long := strings.Repeat("d", 2001)
		resp, b := do(http.MethodPost, "/api/v1/admin/agents", `{"name":"a","type":"finance","description":"`+long+`"}`)
		requireProblem(t, resp, b, http.StatusBadRequest, "description is 2001 characters long; the limit is 2000")
		resp, b = do(http.MethodPatch, agentPath, `{"description":"`+long+`"}`)
		requireProblem(t, resp, b, http.StatusBadRequest, "description is 2001 characters long; the limit is 2000")

		resp, b = do(http.MethodPatch, agentPath, `{"name":"Renamed","status":"bogus"}`)
		requireProblem(t, resp, b, http.StatusBadRequest, `status "bogus" cannot be set`)
		resp, b = do(http.MethodPatch, agentPath, `{"name":"Renamed","config":{"a":"\u0000"}}`)
		requireProblem(t, resp, b, http.StatusBadRequest, "config.a")
		resp, b = do(http.MethodGet, agentPath, "")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.Unmarshal(b, &agent))
		assert.Equal(t, "Target", agent.Name, "a refused update changed nothing")

		resp, b = do(http.MethodPatch, agentPath, `{"name":"Renamed","status":"paused"}`)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		require.Contains(t, string(b), `"status":"paused"`)
		require.Contains(t, string(b), `"name":"Renamed"`)
		resp, b = do(http.MethodPatch, agentPath, `{"status":"active"}`)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		require.Contains(t, string(b), `"status":"idle"`)
	})
}
