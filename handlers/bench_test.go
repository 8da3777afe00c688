package handlers_test

import (
	"context"
	"net/http"
	"runtime"
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

// BenchmarkMCPToolCall measures a tools/call (sales_forecaster, 5 points)
// from the Go SDK client against the real /mcp with everything on: key
// check, rate limit in Redis, schema validation, the execution log in
// PostgreSQL. The server logs at info, as it ships. Variants:
//
//   - 2025-11-25/serial: one call at a time on an open session;
//   - 2026-07-28/serial: one stateless call at a time;
//   - 2026-07-28/parallel: about 16 stateless callers at once (whatever
//     -cpu says), each with its own key so that no key's rate limit caps
//     the run.
//
// Compare builds with e.g. `go test -run '^$' -bench MCPToolCall -cpu 1,2
// -count 5 ./handlers/` run alternately on each; `make bench` has the side
// by side figures against bare SDK servers.
func BenchmarkMCPToolCall(b *testing.B) {
	srv := testkit.StartServer(b, testkit.WithEnv("LOG_LEVEL", "info"))
	args := map[string]any{"series": []float64{10, 12, 14, 16, 18}, "horizon": 3}
	call := func(s *mcp.ClientSession) {
		res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "sales_forecaster", Arguments: args})
		if err != nil || res.IsError {
			b.Errorf("call: %v %v", err, res)
		}
	}
	b.Run("2025-11-25/serial", func(b *testing.B) {
		s := benchMCPSession(b, srv, benchKey(b, srv), "2025-11-25")
		for b.Loop() {
			call(s)
		}
	})
	b.Run("2026-07-28/serial", func(b *testing.B) {
		s := benchMCPSession(b, srv, benchKey(b, srv), "")
		for b.Loop() {
			call(s)
		}
	})
	b.Run("2026-07-28/parallel", func(b *testing.B) {
		const callers = 16
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((callers + procs - 1) / procs)
		sessions := make(chan *mcp.ClientSession, callers+procs)
		for range cap(sessions) {
			sessions <- benchMCPSession(b, srv, benchKey(b, srv), "")
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			s := <-sessions
			for pb.Next() {
				call(s)
			}
		})
	})
}

// benchMCPSession connects the Go SDK client at the given protocol version
// ("" for 2026-07-28, stateless), over a transport that keeps its
// connections, as a real client's does.
func benchMCPSession(b *testing.B, srv *testkit.Server, key, version string) *mcp.ClientSession {
	b.Helper()
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(transport.CloseIdleConnections)
	client := mcp.NewClient(&mcp.Implementation{Name: "bizmcp-bench", Version: "1.0.0"}, nil)
	s, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: srv.URL + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearerTransport{key: key, base: transport}},
	}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// bearerTransport adds a key to every request.
type bearerTransport struct {
	key  string
	base http.RoundTripper
}

func (t bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.key)
	return t.base.RoundTrip(r)
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
