package handlers_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/handlers"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

// hostileValues are JSON values that once broke a request somewhere, or
// could: what PostgreSQL refuses, numbers that wrap, wrong types, nesting,
// sizes, and strings that are code in another language.
func hostileValues() []string {
	return []string{
		`"\u0000"`, `"a\u0000b"`, `"\ud800"`, `"\udc00x"`, "\"\xff\xfe\"", "\"\xed\xa0\x80\"", `1e999`, `-1e999`, `0e99999`,
		`1e-20000`, `-1`, `0`, `18446744075`, `9223372036854775808`, `1.5`, `[]`, `{}`, `null`, `true`, `""`, `" "`,
		`[""]`, `["\u0000"]`, `[null]`, `{"\u0000":1}`, `{"k":"\ud800"}`, deepJSON(100), deepJSON(5000),
		`"` + strings.Repeat("x", 100_000) + `"`, `"<script>alert(1)</script>"`, `"' OR 1=1; DROP TABLE agents.agents; --"`,
		`"a\nb\rc\td"`, `"\u202e\u0007\u001b[31m"`, `"2026-13-45T99:99:99Z"`, `"0001-01-01T00:00:00Z"`, `"` + uuid.NewString() + `"`,
		`"paused"`, `"active"`, `"admin"`, `["admin","read","write","root"]`, `["report_generator","report_generator"]`,
		`{"task":{"title":"\u0000"}}`, `{"task":{"title":"t","input_data":{"x":"\ud800"},"domain":"` + strings.Repeat("z", 1000) + `"}}`,
		"0." + strings.Repeat("0", 300) + "1",
	}
}

// hostileFields are the fields of every request body of the API (and of
// JSON-RPC), so generated bodies reach past "unknown field".
var hostileFields = []string{
	"name", "type", "description", "capabilities", "config", "title", "domain", "priority", "input_data",
	"timeout_seconds", "max_attempts", "tool_name", "parameters", "status", "scopes", "rate_limit", "expires_at",
	"payload", "sender_id", "correlation_id", "jsonrpc", "method", "params", "id",
}

// validBases are well-formed bodies of each route family; a generated body
// replaces one of their fields with a hostile value, to reach the code
// behind the first check.
var validBases = []map[string]string{
	{"name": `"Walker"`, "type": `"finance"`, "description": `"d"`, "config": `{"a":1}`},
	{"title": `"t"`, "domain": `"finance"`, "priority": `"high"`, "input_data": `{"data":[{"period":"Q1","revenue":1,"costs":1}]}`, "timeout_seconds": `60`},
	{"tool_name": `"report_generator"`, "parameters": `{"title":"T","sections":[{"heading":"H","data":[{"a":1}]}]}`},
	{"tool_name": `"data_analyzer"`, "parameters": `{"csv":"a,b\n1,2\n"}`},
	{"tool_name": `"financial_analyzer"`, "parameters": `{"data":[{"period":"Q1","revenue":1,"costs":1}]}`},
	{"name": `"k"`, "scopes": `["read"]`, "rate_limit": `10`},
	{"type": `"request"`, "payload": `{"task":{"title":"t","input_data":{}}}`},
	{"status": `"paused"`, "name": `"n"`},
	{"jsonrpc": `"2.0"`, "id": `1`, "method": `"tools/call"`, "params": `{"name":"report_generator","arguments":{"title":"T"}}`},
}

func deepJSON(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// objectJSON writes an object from raw field values, in key order.
func objectJSON(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%q:%s", k, fields[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// hostileBodies generates n JSON bodies from rng, after fixed ones that are
// not objects or not JSON at all.
func hostileBodies(rng *rand.Rand, n int) []string {
	values := hostileValues()
	bodies := []string{
		"", "null", "[]", "{", "{}", "{}{}", `{"a":1} trailing`, "\x00", "\xff\xfe", `"\u0000"`, deepJSON(10_000),
		`{"name":"a","name":"\u0000"}`, `{"` + strings.Repeat("k", 10_000) + `":1}`, strings.Repeat(" ", 100) + "{}",
	}
	for len(bodies) < n {
		var fields map[string]string
		if rng.IntN(3) > 0 {
			fields = map[string]string{}
			for k, v := range validBases[rng.IntN(len(validBases))] {
				fields[k] = v
			}
			keys := make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			fields[keys[rng.IntN(len(keys))]] = values[rng.IntN(len(values))]
		} else {
			fields = map[string]string{}
			for range 1 + rng.IntN(4) {
				fields[hostileFields[rng.IntN(len(hostileFields))]] = values[rng.IntN(len(values))]
			}
		}
		bodies = append(bodies, objectJSON(fields))
	}
	return bodies
}

// hostileForms are form bodies for the dashboard's POST routes.
func hostileForms(rng *rand.Rand, n int, csrf string) []url.Values {
	texts := []string{"\x00", "a\x00b", "\xff\xfe", strings.Repeat("x", 100_000), "<script>alert(1)</script>", "' OR 1=1 --",
		"-1", "18446744075", "1e999", "{", `{"a":"\u0000"}`, deepJSON(5000), "", " ", "paused", "admin", "finance", uuid.NewString()}
	fields := []string{"name", "type", "description", "capabilities", "config", "title", "domain", "priority", "input_data",
		"timeout_seconds", "max_attempts", "status", "scopes", "rate_limit", "expires_in", "expires_at", "api_key", "ids", "id",
		"title", "sections", "csv", "series", "horizon", "prompt", "data", "arguments"}
	var out []url.Values
	for range n {
		form := url.Values{"csrf_token": {csrf}}
		for range 1 + rng.IntN(5) {
			form.Add(fields[rng.IntN(len(fields))], texts[rng.IntN(len(texts))])
		}
		out = append(out, form)
	}
	return out
}

// TestEveryRouteSurvivesHostileInput walks the real route table (so a route
// added without a way to reach it here fails the test) with hostile path
// parameters, queries and bodies, while PostgreSQL and Redis are up: no
// answer is a 5xx, and every error under /api/ is problem+json. The
// dashboard's routes are walked signed in, with its CSRF token, so hostile
// forms reach its handlers; they answer errors as HTML.
func TestEveryRouteSurvivesHostileInput(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	key := testkit.CreateKey(t, srv.Env, "route walker", "admin", "--rate-limit", "100000")

	resp, b := srv.Do(t, http.MethodPost, "/api/v1/admin/agents", key, strings.NewReader(`{"name":"Walked","type":"finance"}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var agent struct{ ID string }
	require.NoError(t, json.Unmarshal(b, &agent))
	resp, b = srv.Do(t, http.MethodPost, "/api/v1/resources/tasks", key, strings.NewReader(`{"title":"Walked","domain":"analytics","input_data":{"csv":"a\n1\n2\n"}}`))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var task struct {
		TaskID string `json:"task_id"`
	}
	require.NoError(t, json.Unmarshal(b, &task))
	browser := srv.NewFormClient(t)
	browser.SignIn(t, key)
	csrf := browser.CSRFToken(t)

	// Values for every path parameter; a route with a parameter missing
	// here fails the test until it is given some.
	params := map[string][]string{
		"id":   {agent.ID, task.TaskID, uuid.NewString(), "not-a-uuid", "%00", "%FF%FE", strings.Repeat("9", 300)},
		"name": {"report_generator", "no_such_tool", "%00", "%E2%80%AE", "%FF"},
		"*":    {"app.css", "..%2F..%2Fgo.mod", "%00", "no-such-file.js"},
	}
	queries := []string{
		"", "?limit=-1", "?limit=99999999999999999999", "?limit=1e3", "?limit=%00",
		"?cursor=OTIyMzM3MjAzNjg1NDc3NTgwNy4wMTkyZjNlNC01YjZjLTdkOGUtOWYwMC0xMTIyMzM0NDU1NjY",
		"?cursor=LTkyMjMzNzIwMzY4NTQ3NzU4MDguMDE5MmYzZTQtNWI2Yy03ZDhlLTlmMDAtMTEyMjMzNDQ1NTY2", "?cursor=%00%FF",
		"?status=%00&type=%FF&domain=finance&priority=x", "?agent_id=x&task_id=%00&parent_task_id=1", "?failed=maybe&source=%00&tool=%FF",
		"?type=task.created,%00&agent_id=" + uuid.NewString(), "?state=%00&q=" + strings.Repeat("%FF", 1000),
	}
	rng := rand.New(rand.NewPCG(8, 2026))
	bodies := hostileBodies(rng, 60)
	forms := hostileForms(rng, 25, csrf)

	routes := handlers.RouteTable()
	// Sign-out last: it ends the session the other dashboard routes use.
	slices.SortStableFunc(routes, func(a, b *echo.Route) int {
		return strings.Compare(fmt.Sprint(a.Path == "/logout"), fmt.Sprint(b.Path == "/logout"))
	})
	failures := 0
	check := func(method, path string, status int, contentType string, body []byte) {
		t.Helper()
		var problem string
		switch {
		case status >= 500:
			problem = "a 5xx"
		case strings.HasPrefix(path, "/api/") && status >= 400 && contentType != "application/problem+json":
			problem = "an API error that is not problem+json (" + contentType + ")"
		default:
			return
		}
		if failures++; failures <= 20 {
			t.Errorf("%s %s: %d, %s: %.300s", method, apperrTruncate(path), status, problem, body)
		}
	}
	requests := 0
	for _, r := range routes {
		paths, err := expandPath(r.Path, params)
		require.NoError(t, err, "%s %s", r.Method, r.Path)
		for _, path := range paths {
			api := strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/mcp") || path == "/metrics" || strings.HasPrefix(path, "/static/")
			switch r.Method {
			case http.MethodGet, http.MethodDelete, http.MethodHead:
				for _, q := range queries {
					if r.Path == "/api/v1/stream" || r.Path == "/ws" {
						q = "" // a plain GET of a WebSocket is refused before its query
					}
					var resp *http.Response
					var b []byte
					if api {
						// No event-stream Accept: a GET must not open a stream
						// that stays open.
						resp, b = srv.Do(t, r.Method, path+q, key, nil, "Accept", "application/json")
					} else {
						resp, b = browser.Get(t, path+q)
					}
					requests++
					check(r.Method, path+q, resp.StatusCode, resp.Header.Get("Content-Type"), b)
					if r.Method == http.MethodDelete {
						break // a query changes nothing for a DELETE
					}
				}
			case http.MethodPost, http.MethodPatch, http.MethodPut:
				if api {
					for _, body := range bodies {
						resp, b := srv.Do(t, r.Method, path, key, strings.NewReader(body), "Accept", "application/json, text/event-stream")
						requests++
						check(r.Method, path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
					}
					continue
				}
				for _, form := range forms {
					resp, b := browser.PostForm(t, path, form)
					requests++
					check(r.Method, path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
				}
			default:
				t.Errorf("route %s %s: no requests for the method %s: add them to this test", r.Method, r.Path, r.Method)
			}
		}
	}
	t.Logf("%d routes, %d requests, %d failures", len(routes), requests, failures)
	// The server is still up and well.
	resp, b = srv.Do(t, http.MethodGet, "/api/v1/health", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
}

// expandPath returns the paths of route path with each :param (and the
// * wildcard) replaced by each of its values.
func expandPath(path string, params map[string][]string) ([]string, error) {
	paths := []string{""}
	for _, seg := range strings.Split(path, "/")[1:] {
		var values []string
		switch {
		case strings.HasPrefix(seg, ":"):
			values = params[seg[1:]]
			if values == nil {
				return nil, fmt.Errorf("no values for the path parameter %s: add some to this test", seg)
			}
		case seg == "*":
			values = params["*"]
		default:
			values = []string{seg}
		}
		var next []string
		for _, p := range paths {
			for _, v := range values {
				next = append(next, p+"/"+v)
			}
		}
		paths = next
	}
	if path == "/" {
		return []string{"/"}, nil
	}
	return paths, nil
}

func apperrTruncate(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
