package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

func withFakeLLM(f *testkit.FakeLLM, extra ...string) testkit.ServerOption {
	return func(env map[string]string) {
		env["OPENAI_BASE_URL"] = f.URL
		env["OPENAI_API_KEY"] = "sk-test-not-a-real-key"
		env["LLM_MODEL"] = "gpt-4o-mini"
		for i := 0; i+1 < len(extra); i += 2 {
			env[extra[i]] = extra[i+1]
		}
	}
}

func TestLLMProcessorWithProvider(t *testing.T) {
	t.Parallel()
	fake := testkit.StartFakeLLM(t, testkit.ChatReply("gpt-4o-mini", "Revenue grew 20%.", 1200, 800))
	srv := testkit.StartServer(t, withFakeLLM(fake))
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)

	res := callTool(t, s, "llm_processor", map[string]any{"prompt": "Summarise", "system": "Be brief", "max_tokens": 50, "temperature": 0})
	var out struct {
		Content     string  `json:"content"`
		Provider    string  `json:"provider"`
		Model       string  `json:"model"`
		TotalTokens int64   `json:"total_tokens"`
		Cost        float64 `json:"cost"`
		CostKnown   bool    `json:"cost_known"`
	}
	structured(t, res, &out)
	require.Equal(t, "Revenue grew 20%.", out.Content)
	require.Equal(t, "openai", out.Provider)
	require.EqualValues(t, 2000, out.TotalTokens)
	// gpt-4o-mini: $0.15 per 1M input, $0.60 per 1M output:
	// 1200 × 0.15e-6 + 800 × 0.60e-6 = 0.00018 + 0.00048 = 0.00066.
	require.InDelta(t, 0.00066, out.Cost, 1e-12)
	require.True(t, out.CostKnown)

	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "gpt-4o-mini", reqs[0]["model"])
	require.EqualValues(t, 50, reqs[0]["max_tokens"])
	msgs := reqs[0]["messages"].([]any)
	require.Equal(t, "system", msgs[0].(map[string]any)["role"])
	require.Equal(t, "Summarise", msgs[1].(map[string]any)["content"])

	var tokens int64
	var cost float64
	require.NoError(t, dbConn(t, srv).QueryRow(context.Background(),
		"SELECT tokens_used, cost::float8 FROM mcp.tool_executions WHERE tool_name = 'llm_processor'").Scan(&tokens, &cost))
	require.EqualValues(t, 2000, tokens)
	require.InDelta(t, 0.00066, cost, 1e-9)
}

func TestFinancialNarrative(t *testing.T) {
	t.Parallel()
	fake := testkit.StartFakeLLM(t, testkit.ChatReply("gpt-4o-mini", "Margins widened from 25% to 30%.", 300, 40))
	srv := testkit.StartServer(t, withFakeLLM(fake))
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)
	res := callTool(t, s, "financial_analyzer", map[string]any{"data": []map[string]any{
		{"period": "Q1", "revenue": 100, "costs": 75}, {"period": "Q2", "revenue": 120, "costs": 84},
	}})
	var out struct {
		Narrative *string `json:"narrative"`
		Periods   []any   `json:"periods"`
	}
	structured(t, res, &out)
	require.NotNil(t, out.Narrative)
	require.Equal(t, "Margins widened from 25% to 30%.", *out.Narrative)
	require.Len(t, out.Periods, 2)
	// The model was given the computed figures, not asked to invent them.
	prompt := fake.Requests()[0]["messages"].([]any)[1].(map[string]any)["content"].(string)
	require.Contains(t, prompt, `"margin_pct":25`)
}

func TestLLMProviderFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		reply http.HandlerFunc
		env   []string
		want  string
	}{
		{"500 after retries", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, nil, "HTTP 500"},
		{"garbage body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("<html>not json</html>"))
		}, nil, "invalid response"},
		{"hangs past LLM_TIMEOUT", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, []string{"LLM_TIMEOUT", "1s"}, "did not answer within 1s"},
		{"rejects the key", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, `{"error":{"message":"Incorrect API key provided: sk-test-not-a-real-key"}}`, http.StatusUnauthorized)
		}, nil, "rejected the API key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := testkit.StartFakeLLM(t, tc.reply)
			srv := testkit.StartServer(t, withFakeLLM(fake, tc.env...))
			s := testkit.MCPClient(t, srv, srv.AdminKey, nil)
			res := callTool(t, s, "llm_processor", map[string]any{"prompt": "hi"})
			require.True(t, res.IsError)
			require.Contains(t, text(res), tc.want)
			require.NotContains(t, text(res), "sk-test-not-a-real-key")

			// The figures do not depend on the provider.
			res = callTool(t, s, "financial_analyzer", map[string]any{"data": []map[string]any{{"period": "Q1", "revenue": 100, "costs": 75}}})
			var out struct {
				Narrative *string  `json:"narrative"`
				Notes     []string `json:"notes"`
			}
			structured(t, res, &out)
			require.Nil(t, out.Narrative)
			require.Contains(t, strings.Join(out.Notes, " "), "narrative unavailable")
		})
	}
}

// Cancelling an in-flight call cancels the work: the provider request is
// abandoned and the execution is recorded as cancelled.
func TestMCPCancellation(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	abandoned := make(chan struct{}, 1)
	fake := testkit.StartFakeLLM(t, func(_ http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
		abandoned <- struct{}{}
	})
	srv := testkit.StartServer(t, withFakeLLM(fake))
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "llm_processor", Arguments: map[string]any{"prompt": "a long essay"}})
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the provider never received the call")
	}
	cancel()
	require.Error(t, <-errc)
	select {
	case <-abandoned:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not abandon the provider request after the client cancelled")
	}
	conn := dbConn(t, srv)
	require.Eventually(t, func() bool {
		var msg string
		err := conn.QueryRow(context.Background(), "SELECT coalesce(error, '') FROM mcp.tool_executions WHERE tool_name = 'llm_processor'").Scan(&msg)
		return err == nil && strings.Contains(msg, "cancelled")
	}, 10*time.Second, 50*time.Millisecond)
	require.Len(t, fake.Requests(), 1, "a cancelled call is not retried")
}

// Health reports each configured LLM provider, checked by listing its
// models (no tokens spent) and reused for a minute so that polling the
// health endpoint is not load on the provider. A provider refusing the key
// degrades the server without making it unavailable.
func TestHealthReportsLLMProviders(t *testing.T) {
	t.Parallel()
	models := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/models" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1700000000,"owned_by":"test"}]}`))
	}
	fine := testkit.StartFakeLLM(t, models)
	srv := testkit.StartServer(t, withFakeLLM(fine))
	code, h := getHealth(t, srv)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", h.Status)
	require.Equal(t, "up", h.Components["llm:openai"].Status, h.Components["llm:openai"].Detail)
	getHealth(t, srv)
	require.Len(t, fine.Requests(), 1, "the second check reuses the first")

	refused := testkit.StartFakeLLM(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`))
	})
	bad := testkit.StartServer(t, withFakeLLM(refused))
	code, h = getHealth(t, bad)
	require.Equal(t, http.StatusOK, code, "an LLM provider is optional: still serving")
	require.Equal(t, "degraded", h.Status)
	require.Equal(t, "down", h.Components["llm:openai"].Status)
	require.Contains(t, h.Components["llm:openai"].Detail, "rejected the API key")
	require.NotContains(t, h.Components["llm:openai"].Detail, "sk-test-not-a-real-key")

	// The dashboard overview shows the same table.
	b := bad.NewFormClient(t)
	b.SignIn(t, bad.AdminKey)
	resp, body := b.Get(t, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "llm:openai")
}
