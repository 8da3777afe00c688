package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// restTarget is a route a fuzzed body or query is sent to.
type restTarget struct{ method, path string }

// fuzzREST starts one real server for the fuzzing process and sends every
// input to each of the family's routes (body for POST and PATCH, raw query
// for GET): the answer is never a 5xx, and an error is problem+json.
func fuzzREST(f *testing.F, seeds []string, routes func(srv *testkit.Server, key string) []restTarget) {
	srv := testkit.StartServer(f)
	key := testkit.CreateKey(f, srv.Env, "fuzzer", "admin", "--rate-limit", "100000")
	targets := routes(srv, key)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range hostileBodies(rng, 30) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		for _, r := range targets {
			var resp *http.Response
			var b []byte
			if r.method == http.MethodGet {
				resp, b = srv.Do(t, r.method, r.path+"?"+queryOf(input), key, nil)
			} else {
				resp, b = srv.Do(t, r.method, r.path, key, bytes.NewReader(input))
			}
			if resp.StatusCode >= 500 {
				t.Fatalf("%s %s with %q: %d %s", r.method, r.path, input, resp.StatusCode, b)
			}
			if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%s %s with %q: %d as %s, not problem+json: %s", r.method, r.path, input, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		}
	})
}

// createFor creates something over REST for the targets to point at and
// returns the named field of the answer.
func createFor(t testing.TB, srv *testkit.Server, key, path, body, field string) string {
	resp, b := srv.Do(t, http.MethodPost, path, key, strings.NewReader(body))
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out))
	return out[field].(string)
}

func FuzzAgentsBody(f *testing.F) {
	fuzzREST(f, []string{
		`{"name":"A","type":"finance","description":"d","capabilities":["report_generator"],"config":{"k":[1,"x"]}}`,
		`{"name":"B","type":"general","capabilities":[]}`, `{"name":"R","status":"paused","config":{}}`, `{"status":"active"}`,
	}, func(srv *testkit.Server, key string) []restTarget {
		id := createFor(f, srv, key, "/api/v1/admin/agents", `{"name":"Fuzzed","type":"sales"}`, "id")
		return []restTarget{{"POST", "/api/v1/admin/agents"}, {"PATCH", "/api/v1/admin/agents/" + id}}
	})
}

func FuzzTasksBody(f *testing.F) {
	fuzzREST(f, []string{
		`{"title":"T","domain":"finance","priority":"high","input_data":{"data":[{"period":"Q1","revenue":10,"costs":5}]},"timeout_seconds":60,"max_attempts":2}`,
		`{"title":"T","description":"d","domain":"analytics","input_data":{"csv":"a\n1\n"}}`,
	}, func(*testkit.Server, string) []restTarget {
		return []restTarget{{"POST", "/api/v1/resources/tasks"}}
	})
}

func FuzzToolsBody(f *testing.F) {
	fuzzREST(f, []string{
		`{"tool_name":"report_generator","parameters":{"title":"T","sections":[{"heading":"H","data":[{"a":1}]}]}}`,
		`{"tool_name":"data_analyzer","parameters":{"csv":"a,b\n1,2\n3,4\n"}}`,
		`{"tool_name":"sales_forecaster","parameters":{"series":[1,2,3,4],"horizon":2}}`,
		`{"status":"active"}`,
	}, func(*testkit.Server, string) []restTarget {
		return []restTarget{{"POST", "/api/v1/tools/execute"}, {"PATCH", "/api/v1/admin/tools/data_analyzer"}}
	})
}

func FuzzKeysBody(f *testing.F) {
	fuzzREST(f, []string{
		`{"name":"ci","scopes":["read","write"],"rate_limit":60,"expires_at":"2099-01-01T00:00:00Z"}`,
		`{"name":"x","scopes":["admin"]}`,
	}, func(*testkit.Server, string) []restTarget {
		return []restTarget{{"POST", "/api/v1/admin/keys"}}
	})
}

func FuzzMessagesBody(f *testing.F) {
	fuzzREST(f, []string{
		`{"type":"notification","payload":{"note":"hello"}}`,
		`{"type":"request","payload":{"task":{"title":"t","domain":"finance","input_data":{}}}}`,
		`{"type":"response","correlation_id":"0192f3e4-5b6c-7d8e-9f00-112233445566","payload":{}}`,
	}, func(srv *testkit.Server, key string) []restTarget {
		id := createFor(f, srv, key, "/api/v1/admin/agents", `{"name":"Recipient","type":"finance"}`, "id")
		return []restTarget{{"POST", "/api/v1/admin/agents/" + id + "/messages"}}
	})
}

// FuzzListQuery sends fuzzed query strings (filters, cursors, limits) to
// every list of the API.
func FuzzListQuery(f *testing.F) {
	fuzzREST(f, []string{
		"limit=2&cursor=", "status=pending&domain=finance&priority=high", "type=finance&status=idle",
		"cursor=OTIyMzM3MjAzNjg1NDc3NTgwNy4wMTkyZjNlNC01YjZjLTdkOGUtOWYwMC0xMTIyMzM0NDU1NjY", "limit=-1",
		"tool=report_generator&source=rest&failed=true", "state=active",
	}, func(srv *testkit.Server, key string) []restTarget {
		id := createFor(f, srv, key, "/api/v1/admin/agents", `{"name":"Listed","type":"finance"}`, "id")
		return []restTarget{
			{"GET", "/api/v1/admin/agents"}, {"GET", "/api/v1/resources/tasks"}, {"GET", "/api/v1/tools/executions"},
			{"GET", "/api/v1/admin/keys"}, {"GET", "/api/v1/admin/agents/" + id + "/messages"},
		}
	})
}

// queryOf makes a fuzzed input a query string that reaches the handlers:
// the bytes a request line cannot carry (space, control characters, '#',
// non-ASCII) are percent-encoded, the rest ('&', '=', '%' included) kept, so
// the structure is fuzzed too. A malformed request line would be refused by
// net/http before the server sees it.
func queryOf(input []byte) string {
	const keep = "-._~!$&'()*+,;=:@/?%"
	var b strings.Builder
	for _, c := range input {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
