package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/mcphttp"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

func callTool(t *testing.T, s *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err)
	return res
}

func structured(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	require.False(t, res.IsError, "tool error: %s", text(res))
	b, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func TestMCPListsEveryTool(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)
	res, err := s.ListTools(context.Background(), nil)
	require.NoError(t, err)
	var names []string
	analysis := map[string]bool{"customer_segmenter": true, "data_analyzer": true, "financial_analyzer": true, "report_generator": true, "sales_forecaster": true}
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		require.NotNil(t, tool.InputSchema, tool.Name)
		require.NotEmpty(t, tool.Description, tool.Name)
		if analysis[tool.Name] {
			require.NotNil(t, tool.OutputSchema, tool.Name)
			require.True(t, tool.Annotations.ReadOnlyHint, tool.Name)
		}
	}
	sort.Strings(names)
	require.Equal(t, []string{"cancel_task", "create_task", "customer_segmenter", "data_analyzer", "financial_analyzer", "get_task",
		"list_agents", "list_tasks", "llm_processor", "report_generator", "sales_forecaster", "send_agent_message"}, names)
	init := s.InitializeResult()
	require.Equal(t, "bizmcp", init.ServerInfo.Name)
	require.NotNil(t, init.Capabilities.Tools)
	require.NotNil(t, init.Capabilities.Resources)
	require.NotNil(t, init.Capabilities.Prompts)
	require.NotNil(t, init.Capabilities.Logging)
	require.NotNil(t, init.Capabilities.Completions)
}

// Every analysis tool over MCP, with figures worked out by hand.
func TestMCPToolsComputeRealFigures(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)

	t.Run("financial_analyzer", func(t *testing.T) {
		// Q1: profit 100-75 = 25, margin 25%; Q2: profit 120-84 = 36, margin 30%;
		// revenue growth (120-100)/100 = 20%; ROI = (61 - 10)/10 = 510%.
		res := callTool(t, s, "financial_analyzer", map[string]any{"data": []map[string]any{
			{"period": "Q1", "revenue": 100, "costs": 75, "investment": 10},
			{"period": "Q2", "revenue": 120, "costs": 84},
		}})
		var out struct {
			Periods []struct {
				Profit    float64  `json:"profit"`
				MarginPct *float64 `json:"margin_pct"`
			} `json:"periods"`
			Growth struct {
				RevenueGrowthPct *float64 `json:"revenue_growth_pct"`
			} `json:"growth"`
			Investment struct {
				ROIPct *float64 `json:"roi_pct"`
			} `json:"investment"`
			Narrative *string `json:"narrative"`
		}
		structured(t, res, &out)
		require.Equal(t, 25.0, out.Periods[0].Profit)
		require.Equal(t, 25.0, *out.Periods[0].MarginPct)
		require.Equal(t, 30.0, *out.Periods[1].MarginPct)
		require.Equal(t, 20.0, *out.Growth.RevenueGrowthPct)
		require.Equal(t, 510.0, *out.Investment.ROIPct)
		require.Nil(t, out.Narrative, "no LLM provider: figures only")
	})
	t.Run("sales_forecaster", func(t *testing.T) {
		// y = 2t + 10 exactly: the next three are 20, 22, 24.
		res := callTool(t, s, "sales_forecaster", map[string]any{"series": []float64{10, 12, 14, 16, 18}, "horizon": 3})
		var out struct {
			Trend     struct{ Slope, Intercept float64 } `json:"trend"`
			Forecasts []struct {
				Value float64 `json:"value"`
			} `json:"forecasts"`
		}
		structured(t, res, &out)
		require.InDelta(t, 2.0, out.Trend.Slope, 1e-9)
		require.InDelta(t, 10.0, out.Trend.Intercept, 1e-9)
		require.Len(t, out.Forecasts, 3)
		for i, want := range []float64{20, 22, 24} {
			require.InDelta(t, want, out.Forecasts[i].Value, 1e-9)
		}
	})
	t.Run("data_analyzer", func(t *testing.T) {
		// x: 1,2,3,4 → mean 2.5, median 2.5; y = 2x → correlation 1.
		res := callTool(t, s, "data_analyzer", map[string]any{"csv": "x,y\n1,2\n2,4\n3,6\n4,8\n"})
		var out struct {
			RowCount int `json:"row_count"`
			Columns  []struct {
				Name    string `json:"name"`
				Numeric struct {
					Mean, Median float64
				} `json:"numeric"`
			} `json:"columns"`
			Correlations struct {
				Matrix [][]*float64 `json:"matrix"`
			} `json:"correlations"`
		}
		structured(t, res, &out)
		require.Equal(t, 4, out.RowCount)
		require.Equal(t, 2.5, out.Columns[0].Numeric.Mean)
		require.Equal(t, 2.5, out.Columns[0].Numeric.Median)
		require.InDelta(t, 1.0, *out.Correlations.Matrix[0][1], 1e-12)
	})
	t.Run("customer_segmenter", func(t *testing.T) {
		res := callTool(t, s, "customer_segmenter", map[string]any{"customers": []map[string]any{
			{"customer_id": "a", "last_purchase_date": "2026-11-01", "frequency": 20, "monetary": 5000},
			{"customer_id": "b", "last_purchase_date": "2025-01-01", "frequency": 1, "monetary": 10},
		}, "reference_date": "2026-11-02"})
		var out struct {
			Customers []struct {
				ID          string `json:"customer_id"`
				RecencyDays int    `json:"recency_days"`
				RScore      int    `json:"r_score"`
			} `json:"customers"`
		}
		structured(t, res, &out)
		require.Equal(t, 1, out.Customers[0].RecencyDays)
		require.Greater(t, out.Customers[0].RScore, out.Customers[1].RScore)
	})
	t.Run("report_generator", func(t *testing.T) {
		res := callTool(t, s, "report_generator", map[string]any{"title": "Q4 <review>", "sections": []map[string]any{
			{"heading": "Numbers", "data": []map[string]any{{"region": "north", "sales": 10}}},
		}})
		var out struct {
			Markdown string `json:"markdown"`
		}
		structured(t, res, &out)
		require.True(t, strings.HasPrefix(out.Markdown, "# Q4"), out.Markdown)
		require.Contains(t, out.Markdown, "| north")
	})
	t.Run("llm_processor without a provider", func(t *testing.T) {
		res := callTool(t, s, "llm_processor", map[string]any{"prompt": "hello"})
		require.True(t, res.IsError)
		require.Contains(t, text(res), "no LLM provider configured")
	})
}

func TestMCPBadToolCalls(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)
	cases := []struct {
		name string
		tool string
		args any
		want string
	}{
		{"missing required", "financial_analyzer", map[string]any{}, "invalid arguments"},
		{"wrong type", "financial_analyzer", map[string]any{"data": "lots"}, "invalid arguments"},
		{"string in a numeric series", "sales_forecaster", map[string]any{"series": []any{1, "two", 3}}, "invalid arguments"},
		{"empty series", "sales_forecaster", map[string]any{"series": []float64{}}, "series"},
		{"one point", "sales_forecaster", map[string]any{"series": []float64{5}}, "series"},
		{"unknown analysis type", "financial_analyzer", map[string]any{"data": []map[string]any{{"period": "a", "revenue": 1, "costs": 1}}, "analysis_type": "astrology"}, "analysis_type"},
		{"unknown argument", "data_analyzer", map[string]any{"csv": "a\n1\n", "colums": []string{"a"}}, "invalid arguments"},
		{"SQL and HTML as data", "report_generator", map[string]any{"title": "'; DROP TABLE mcp.tools; --", "sections": []map[string]any{{"heading": "<script>alert(1)</script>", "content": "x"}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := callTool(t, s, tc.tool, tc.args)
			if tc.want == "" {
				require.False(t, res.IsError, text(res))
				return
			}
			require.True(t, res.IsError, text(res))
			require.Contains(t, text(res), tc.want)
		})
	}

	_, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "no_such_tool", Arguments: map[string]any{}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "unknown tool")

	// Every call that ran, or was refused for its arguments, is recorded.
	var n int
	conn := dbConn(t, srv)
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM mcp.tool_executions WHERE source = 'mcp'").Scan(&n))
	require.Equal(t, len(cases), n)
	var tables int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM mcp.tools").Scan(&tables))
	require.Equal(t, 6, tables)
}

func TestMCPBoundsEnormousInput(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t, testkit.WithEnv("MAX_BODY_BYTES", "16777216"))
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)
	series := make([]float64, 200_000)
	for i := range series {
		series[i] = float64(i)
	}
	res := callTool(t, s, "sales_forecaster", map[string]any{"series": series})
	require.True(t, res.IsError)
	require.Contains(t, text(res), "10000")
}

func TestMCPScopes(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	readKey := testkit.CreateKey(t, srv.Env, "reader", "read")
	writeKey := testkit.CreateKey(t, srv.Env, "writer", "write")

	reader := testkit.MCPClient(t, srv, readKey, nil)
	res := callTool(t, reader, "data_analyzer", map[string]any{"rows": []map[string]any{{"a": 1}, {"a": 3}}})
	require.False(t, res.IsError, "read may run pure computations")
	res = callTool(t, reader, "llm_processor", map[string]any{"prompt": "hi"})
	require.True(t, res.IsError)
	require.Contains(t, text(res), `lacks the "write" scope`)

	writer := testkit.MCPClient(t, srv, writeKey, nil)
	_, err := writer.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "bizmcp://tool-executions"})
	require.Error(t, err)
	require.Contains(t, err.Error(), `"read" scope`)
}

func TestMCPResourcesPromptsCompletion(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	s := testkit.MCPClient(t, srv, srv.AdminKey, nil)
	ctx := context.Background()
	res := callTool(t, s, "data_analyzer", map[string]any{"rows": []map[string]any{{"a": 1}, {"a": 3}}})
	require.False(t, res.IsError)
	execID, _ := res.Meta["bizmcp/execution_id"].(string)
	require.NotEmpty(t, execID)

	list, err := s.ListResources(ctx, nil)
	require.NoError(t, err)
	var uris []string
	for _, r := range list.Resources {
		uris = append(uris, r.URI)
	}
	require.ElementsMatch(t, []string{"bizmcp://agents", "bizmcp://tool-executions"}, uris)
	templates, err := s.ListResourceTemplates(ctx, nil)
	require.NoError(t, err)
	uris = nil
	for _, r := range templates.ResourceTemplates {
		uris = append(uris, r.URITemplate)
	}
	require.ElementsMatch(t, []string{"bizmcp://agents/{id}", "bizmcp://tasks/{id}", "bizmcp://tool-executions/{id}"}, uris)

	recent, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bizmcp://tool-executions"})
	require.NoError(t, err)
	require.Contains(t, recent.Contents[0].Text, execID)
	one, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bizmcp://tool-executions/" + execID})
	require.NoError(t, err)
	var exec struct {
		ToolName string `json:"tool_name"`
		Source   string `json:"source"`
		Status   string `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(one.Contents[0].Text), &exec))
	require.Equal(t, "data_analyzer", exec.ToolName)
	require.Equal(t, "mcp", exec.Source)
	require.Equal(t, "completed", exec.Status)
	_, err = s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bizmcp://tool-executions/01234567-89ab-7def-8123-456789abcdef"})
	require.Error(t, err)
	require.Contains(t, strings.ToLower(err.Error()), "not found")

	// Another non-admin key does not see this key's executions.
	other := testkit.MCPClient(t, srv, testkit.CreateKey(t, srv.Env, "other", "read"), nil)
	_, err = other.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bizmcp://tool-executions/" + execID})
	require.Error(t, err)

	prompts, err := s.ListPrompts(ctx, nil)
	require.NoError(t, err)
	require.Len(t, prompts.Prompts, 3)
	p, err := s.GetPrompt(ctx, &mcp.GetPromptParams{Name: "financial_review", Arguments: map[string]string{"company": "Acme <b>", "focus": "costs"}})
	require.NoError(t, err)
	msg := p.Messages[0].Content.(*mcp.TextContent).Text
	require.Contains(t, msg, "Acme <b>")
	require.Contains(t, msg, `"analysis_type": "costs"`)
	_, err = s.GetPrompt(ctx, &mcp.GetPromptParams{Name: "financial_review", Arguments: map[string]string{"company": "A", "focus": "vibes"}})
	require.Error(t, err)

	comp, err := s.Complete(ctx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "financial_review"},
		Argument: mcp.CompleteParamsArgument{Name: "focus", Value: "pro"},
	})
	require.NoError(t, err)
	require.Equal(t, []string{"profitability"}, comp.Completion.Values)
	comp, err = s.Complete(ctx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/resource", URI: "bizmcp://tool-executions/{id}"},
		Argument: mcp.CompleteParamsArgument{Name: "id", Value: execID[:8]},
	})
	require.NoError(t, err)
	require.Equal(t, []string{execID}, comp.Completion.Values)
}

func TestMCPProgressAndLogging(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	var mu sync.Mutex
	var progress []float64
	var logs []string
	// logging/setLevel is a 2025-11-25 session feature (2026-07-28 asks for
	// a level per request in _meta).
	s := mcpSession(t, srv.URL, mcphttp.Stateful, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, req.Params.Progress)
			mu.Unlock()
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			mu.Lock()
			b, _ := json.Marshal(req.Params.Data)
			logs = append(logs, string(b))
			mu.Unlock()
		},
	}, bearer(srv.AdminKey))
	ctx := context.Background()
	require.NoError(t, s.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}))
	params := &mcp.CallToolParams{Name: "sales_forecaster", Arguments: map[string]any{"series": []float64{1, 2, 3, 4}}}
	params.SetProgressToken("p1")
	res, err := s.CallTool(ctx, params)
	require.NoError(t, err)
	require.False(t, res.IsError)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(progress) == 2 && len(logs) == 1
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, []float64{1, 2}, progress)
	require.Contains(t, logs[0], `"tool":"sales_forecaster"`)
	require.NoError(t, s.Ping(ctx, nil))
}

func TestMCPAuthAndOrigin(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`
	mcpHeaders := []string{"Accept", "application/json, text/event-stream"}

	resp, b := srv.Do(t, http.MethodPost, "/mcp", "", strings.NewReader(initBody), mcpHeaders...)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(b))
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")

	revoked := testkit.CreateKey(t, srv.Env, "gone", "read")
	resp, b = srv.Do(t, http.MethodGet, "/api/v1/admin/keys", srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct{ Items []keyJSON }
	require.NoError(t, json.Unmarshal(b, &list))
	for _, k := range list.Items {
		if k.Name == "gone" {
			srv.Do(t, http.MethodDelete, "/api/v1/admin/keys/"+k.ID, srv.AdminKey, nil)
		}
	}
	resp, _ = srv.Do(t, http.MethodPost, "/mcp", revoked, strings.NewReader(initBody), mcpHeaders...)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, b = srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey, strings.NewReader(initBody), append(mcpHeaders, "Origin", "https://evil.example")...)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, string(b))
	require.Contains(t, string(b), "cross-origin")
	resp, _ = srv.Do(t, http.MethodGet, "/mcp", srv.AdminKey, nil, "Origin", "https://evil.example", "Accept", "text/event-stream")
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "the GET stream too")
	resp, _ = srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey, strings.NewReader(initBody), append(mcpHeaders, "Host", "evil.example")...)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "DNS rebinding: a foreign Host on a loopback listener")

	// Same-origin (a browser on the server's own page) is fine.
	resp, b = srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey, strings.NewReader(initBody), append(mcpHeaders, "Origin", srv.URL)...)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
}

func TestMCPHostileJSONRPC(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	h := []string{"Accept", "application/json, text/event-stream"}
	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	resp, b := srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey, strings.NewReader(initBody), h...)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	session := resp.Header.Get("Mcp-Session-Id")
	require.NotEmpty(t, session)
	withSession := append(h, "Mcp-Session-Id", session, "Mcp-Protocol-Version", "2025-11-25")
	srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey, strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), withSession...)

	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"not JSON", `{"jsonrpc": "2.0", "id": 2, "method": `, http.StatusBadRequest, `"code":-32700`},
		{"not an object", `"hello"`, http.StatusBadRequest, "a JSON-RPC message is a JSON object"},
		{"trailing data", `{"jsonrpc":"2.0","id":9,"method":"tools/list"} {"jsonrpc":"2.0","id":10,"method":"tools/list"}`, http.StatusBadRequest, "send one message per request"},
		{"missing jsonrpc", `{"id": 3, "method": "tools/list"}`, http.StatusBadRequest, `expected "2.0"`},
		{"unknown method", `{"jsonrpc":"2.0","id":4,"method":"tools/destroy_everything"}`, http.StatusBadRequest, `"tools/destroy_everything" unsupported`},
		{"tools/call without params", `{"jsonrpc":"2.0","id":5,"method":"tools/call"}`, http.StatusBadRequest, `missing required "params"`},
		{"arguments not an object", `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"data_analyzer","arguments":[1,2]}}`, http.StatusOK, ""},
	}
	for _, tc := range cases {
		resp, b := srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey, strings.NewReader(tc.body), withSession...)
		require.Equal(t, tc.status, resp.StatusCode, "%s: %s", tc.name, b)
		if tc.want != "" {
			require.Contains(t, string(b), tc.want, tc.name)
		}
		if tc.name == "arguments not an object" {
			require.True(t, strings.Contains(string(b), `"isError":true`) || strings.Contains(string(b), `"error"`), string(b))
		}
	}
	resp, _ = srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey, strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/list"}`),
		append(h, "Mcp-Session-Id", "no-such-session", "Mcp-Protocol-Version", "2025-11-25")...)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Another key cannot use this session.
	other := testkit.CreateKey(t, srv.Env, "other", "admin")
	resp, _ = srv.Do(t, http.MethodPost, "/mcp", other, strings.NewReader(`{"jsonrpc":"2.0","id":8,"method":"tools/list"}`), withSession...)
	require.NotEqual(t, http.StatusOK, resp.StatusCode, "a session is bound to the key that opened it")

	// The server is still healthy.
	resp, _ = srv.Do(t, http.MethodGet, "/api/v1/health", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
