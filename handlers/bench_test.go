package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// BenchmarkRESTAuthenticated measures one authenticated request end to end:
// key lookup in PostgreSQL, the rate limit in Redis, the handler.
func BenchmarkRESTAuthenticated(b *testing.B) {
	srv := testkit.StartServer(b)
	key := benchKey(b, srv)
	b.ResetTimer()
	for b.Loop() {
		resp, _ := srv.Do(b, http.MethodGet, "/api/v1/me", key, nil)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkRESTToolExecute measures a tool run over REST, recorded in
// mcp.tool_executions.
func BenchmarkRESTToolExecute(b *testing.B) {
	srv := testkit.StartServer(b)
	key := benchKey(b, srv)
	body := `{"tool_name":"financial_analyzer","parameters":{"data":[{"period":"Q1","revenue":100,"costs":75},{"period":"Q2","revenue":120,"costs":84}]}}`
	b.ResetTimer()
	for b.Loop() {
		resp, _ := srv.Do(b, http.MethodPost, "/api/v1/tools/execute", key, strings.NewReader(body))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkMCPToolCall measures a tools/call from the Go SDK client on an
// open session.
func BenchmarkMCPToolCall(b *testing.B) {
	srv := testkit.StartServer(b)
	key := benchKey(b, srv)
	s := testkit.MCPClient(b, srv, key, nil)
	args := map[string]any{"series": []float64{10, 12, 14, 16, 18}, "horizon": 3}
	b.ResetTimer()
	for b.Loop() {
		res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "sales_forecaster", Arguments: args})
		if err != nil || res.IsError {
			b.Fatalf("call: %v", err)
		}
	}
}

// BenchmarkTaskLatency measures one task from POST to completed: the River
// job, the agent claim, two tool calls and the bookkeeping.
func BenchmarkTaskLatency(b *testing.B) {
	srv := testkit.StartServer(b)
	key := benchKey(b, srv)
	body := `{"title":"Bench","domain":"sales","input_data":{"series":[1,2,3,4,5]}}`
	b.ResetTimer()
	for b.Loop() {
		resp, raw := srv.Do(b, http.MethodPost, "/api/v1/resources/tasks", key, strings.NewReader(body))
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d: %s", resp.StatusCode, raw)
		}
		id := string(raw[strings.Index(string(raw), `"task_id":"`)+11:])
		id = id[:36]
		for deadline := time.Now().Add(30 * time.Second); ; {
			_, t := srv.Do(b, http.MethodGet, "/api/v1/resources/tasks/"+id, key, nil)
			if strings.Contains(string(t), `"status":"completed"`) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("task %s did not complete: %s", id, t)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// benchKey is an admin key whose rate limit does not cap the benchmark.
func benchKey(b *testing.B, srv *testkit.Server) string {
	return testkit.CreateKey(b, srv.Env, "bench", "admin", "--rate-limit", "100000")
}
