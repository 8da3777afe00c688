package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// apiSpec is the served OpenAPI document, with helpers to check real
// responses against it.
type apiSpec struct {
	doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Ref     string `json:"$ref"`
				Content map[string]struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	mu      sync.Mutex
	checked map[string]bool
}

func loadSpec(t *testing.T, srv *testkit.Server) *apiSpec {
	t.Helper()
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	s := &apiSpec{checked: map[string]bool{}}
	require.NoError(t, json.Unmarshal(b, &s.doc))
	require.Contains(t, string(b), `"openapi": "3.1.0"`)
	return s
}

// validate checks that the operation documents the response's status and
// that the body matches the documented schema.
func (s *apiSpec) validate(t *testing.T, method, template string, resp *http.Response, body []byte) {
	t.Helper()
	op, ok := s.doc.Paths[template][strings.ToLower(method)]
	require.True(t, ok, "%s %s is not documented", method, template)
	r, ok := op.Responses[fmt.Sprint(resp.StatusCode)]
	require.True(t, ok, "%s %s: status %d is not documented (%s)", method, template, resp.StatusCode, body)
	s.mu.Lock()
	s.checked[strings.ToUpper(method)+" "+template] = true
	s.mu.Unlock()
	var schema json.RawMessage
	switch {
	case r.Ref == "#/components/responses/Problem":
		schema = json.RawMessage(`{"$ref":"#/components/schemas/Problem"}`)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	case len(r.Content) > 0:
		for _, c := range r.Content {
			schema = c.Schema
		}
	default:
		return // no body documented (204, 101)
	}
	// JSON Schema 2020-12 resolves $defs; the document's refs point into
	// components, so the components become $defs of one root.
	defs, err := json.Marshal(s.doc.Components.Schemas)
	require.NoError(t, err)
	root := strings.ReplaceAll(fmt.Sprintf(`{"$defs":%s,"allOf":[%s]}`, defs, schema), "#/components/schemas/", "#/$defs/")
	var js jsonschema.Schema
	require.NoError(t, json.Unmarshal([]byte(root), &js))
	resolved, err := js.Resolve(nil)
	require.NoError(t, err)
	var instance any
	require.NoError(t, json.Unmarshal(body, &instance), string(body))
	require.NoError(t, resolved.Validate(instance), "%s %s %d: body does not match the document:\n%s", method, template, resp.StatusCode, body)
}

var uuidPattern = regexp.MustCompile(`"(?:id|task_id)":"([0-9a-f-]{36})"`)

func firstID(b []byte) string {
	m := uuidPattern.FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// TestOpenAPIMatchesResponses drives every documented operation for real
// and checks each answer, success and failure, against the document.
func TestOpenAPIMatchesResponses(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	spec := loadSpec(t, srv)
	key := srv.AdminKey
	call := func(method, path, template, body string) []byte {
		var r *strings.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		var resp *http.Response
		var b []byte
		if r != nil {
			resp, b = srv.Do(t, method, path, key, r)
		} else {
			resp, b = srv.Do(t, method, path, key, nil)
		}
		spec.validate(t, method, template, resp, b)
		return b
	}

	call("GET", "/api/v1/health", "/api/v1/health", "")
	call("GET", "/api/v1/me", "/api/v1/me", "")
	created := call("POST", "/api/v1/admin/keys", "/api/v1/admin/keys", `{"name":"doc","scopes":["read"],"rate_limit":10}`)
	call("POST", "/api/v1/admin/keys", "/api/v1/admin/keys", `{"name":"doc","scopes":["root"]}`)
	keyID := firstID(created)
	call("GET", "/api/v1/admin/keys", "/api/v1/admin/keys", "")
	call("GET", "/api/v1/admin/keys/"+keyID, "/api/v1/admin/keys/{id}", "")
	call("GET", "/api/v1/admin/keys/not-a-uuid", "/api/v1/admin/keys/{id}", "")
	call("DELETE", "/api/v1/admin/keys/"+keyID, "/api/v1/admin/keys/{id}", "")

	call("GET", "/api/v1/tools", "/api/v1/tools", "")
	exec := call("POST", "/api/v1/tools/execute", "/api/v1/tools/execute", `{"tool_name":"sales_forecaster","parameters":{"series":[1,2,3]}}`)
	call("POST", "/api/v1/tools/execute", "/api/v1/tools/execute", `{"tool_name":"sales_forecaster","parameters":{"series":[]}}`)
	call("POST", "/api/v1/tools/execute", "/api/v1/tools/execute", `{"tool_name":"llm_processor","parameters":{"prompt":"x"}}`)
	call("GET", "/api/v1/tools/executions", "/api/v1/tools/executions", "")
	call("GET", "/api/v1/tools/executions/"+firstID(exec), "/api/v1/tools/executions/{id}", "")
	call("PATCH", "/api/v1/admin/tools/report_generator", "/api/v1/admin/tools/{name}", `{"status":"active"}`)

	agent := call("POST", "/api/v1/admin/agents", "/api/v1/admin/agents", `{"name":"Doc agent","type":"sales"}`)
	agentID := firstID(agent)
	call("POST", "/api/v1/admin/agents", "/api/v1/admin/agents", `{"name":"x","type":"wizard"}`)
	call("GET", "/api/v1/admin/agents", "/api/v1/admin/agents", "")
	call("GET", "/api/v1/admin/agents/"+agentID, "/api/v1/admin/agents/{id}", "")
	call("PATCH", "/api/v1/admin/agents/"+agentID, "/api/v1/admin/agents/{id}", `{"status":"paused"}`)
	call("POST", "/api/v1/admin/agents/"+agentID+"/messages", "/api/v1/admin/agents/{id}/messages", `{"type":"notification","payload":{"note":"hi"}}`)
	call("GET", "/api/v1/admin/agents/"+agentID+"/messages", "/api/v1/admin/agents/{id}/messages", "")
	call("DELETE", "/api/v1/admin/agents/"+agentID, "/api/v1/admin/agents/{id}", "")

	task := call("POST", "/api/v1/resources/tasks", "/api/v1/resources/tasks", `{"title":"Doc","domain":"sales","input_data":{"series":[1,2,3]}}`)
	call("POST", "/api/v1/resources/tasks", "/api/v1/resources/tasks", `{"title":"Doc","domain":"nowhere"}`)
	taskID := firstID(task)
	waitTask(t, srv, taskID, "completed", "failed")
	call("GET", "/api/v1/resources/tasks", "/api/v1/resources/tasks", "")
	call("GET", "/api/v1/resources/tasks/"+taskID, "/api/v1/resources/tasks/{id}", "")
	call("GET", "/api/v1/resources/tasks/"+taskID+"/events", "/api/v1/resources/tasks/{id}/events", "")
	call("POST", "/api/v1/resources/tasks/"+taskID+"/cancel", "/api/v1/resources/tasks/{id}/cancel", "")
	call("POST", "/api/v1/resources/tasks/"+taskID+"/retry", "/api/v1/resources/tasks/{id}/retry", "")
	call("GET", "/api/v1/resources/tasks/01234567-89ab-7def-8123-456789abcdef", "/api/v1/resources/tasks/{id}", "")

	key = ""
	call("GET", "/api/v1/me", "/api/v1/me", "")

	// Every documented operation was exercised (the stream has its own tests).
	var missing []string
	for path, ops := range spec.doc.Paths {
		for method := range ops {
			name := strings.ToUpper(method) + " " + path
			if !spec.checked[name] && path != "/api/v1/stream" {
				missing = append(missing, name)
			}
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "documented operations no test checked")
}
