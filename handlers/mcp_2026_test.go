package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/mcphttp"
	"github.com/bizmcp/bizmcp/internal/mcptasks"
	"github.com/bizmcp/bizmcp/internal/testkit"
)

// alternate sends each request to the next of several instances in turn, as
// a load balancer without affinity does, and records what it saw.
type alternate struct {
	targets  []*url.URL
	key      string
	n        atomic.Int64
	mu       sync.Mutex
	sessions []string
	hits     map[string]int
}

func newAlternate(t *testing.T, key string, servers ...*testkit.Server) *alternate {
	t.Helper()
	a := &alternate{key: key, hits: map[string]int{}}
	for _, s := range servers {
		u, err := url.Parse(s.URL)
		require.NoError(t, err)
		a.targets = append(a.targets, u)
	}
	return a
}

func (a *alternate) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	target := a.targets[int(a.n.Add(1)-1)%len(a.targets)]
	r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, target.Host
	r.Header.Set("Authorization", "Bearer "+a.key)
	a.mu.Lock()
	a.sessions = append(a.sessions, r.Header.Get("Mcp-Session-Id"))
	a.hits[target.Host]++
	a.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// mcpSession connects the Go SDK client to /mcp at the given protocol
// version ("" for the SDK's newest, 2026-07-28) through rt.
func mcpSession(t *testing.T, endpoint, version string, opts *mcp.ClientOptions, rt http.RoundTripper) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "bizmcp-test", Version: "1.0.0"}, opts)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint: endpoint + "/mcp", MaxRetries: -1, HTTPClient: &http.Client{Transport: rt},
	}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// bearer adds a key to every request.
type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// answerDomain answers create_task's question for a domain.
func answerDomain(domain string, asked *atomic.Int64) *mcp.ClientOptions {
	return &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		asked.Add(1)
		if domain == "" {
			return &mcp.ElicitResult{Action: "decline"}, nil
		}
		return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"domain": domain}}, nil
	}}
}

// A 2026-07-28 client needs no affinity: every request of one client goes to
// the other of two instances, and it lists, calls, is asked for input (the
// answer, with its signed state, reaches the other instance) and follows its
// task to the end.
func TestMCP2026AcrossInstancesWithoutAffinity(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	lb := newAlternate(t, a.AdminKey, a, b)
	var asked atomic.Int64
	cs := mcpSession(t, a.URL, "", answerDomain("sales", &asked), lb)
	require.Equal(t, mcphttp.Stateless, cs.InitializeResult().ProtocolVersion)

	tools, err := cs.ListTools(t.Context(), nil)
	require.NoError(t, err)
	require.NotEmpty(t, tools.Tools)
	require.Equal(t, "private", tools.CacheScope)
	require.Positive(t, tools.TTLMs)

	var fc struct {
		Forecasts []struct{ Value float64 } `json:"forecasts"`
	}
	structured(t, callTool(t, cs, "sales_forecaster", map[string]any{"series": []float64{10, 12, 14, 16, 18}, "horizon": 2}), &fc)
	require.InDelta(t, 20, fc.Forecasts[0].Value, 1e-9)

	res := callTool(t, cs, "create_task", map[string]any{
		"title": "Forecast across instances", "wait": true, "wait_seconds": 60,
		"input_data": map[string]any{"series": []float64{10, 12, 14, 16, 18}, "horizon": 1},
	})
	require.Equal(t, int64(1), asked.Load(), "the client was asked for the domain once")
	var done struct {
		Task struct {
			ID, Status, Domain string
		} `json:"task"`
	}
	structured(t, res, &done)
	require.Equal(t, "sales", done.Task.Domain)
	require.Equal(t, "completed", done.Task.Status)

	for i := 0; i < 4; i++ {
		res = callTool(t, cs, "get_task", map[string]any{"task_id": done.Task.ID})
		require.False(t, res.IsError, text(res))
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, id := range lb.sessions {
		require.Empty(t, id, "a 2026-07-28 client carries no session")
	}
	require.Len(t, lb.hits, 2)
	for host, n := range lb.hits {
		require.GreaterOrEqual(t, n, 4, "instance %s served its share", host)
	}
}

func TestMCPCreateTaskAsksForItsDomain(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	args := map[string]any{"title": "Which domain?", "input_data": map[string]any{"prompt": "hi"}}

	// A 2025-11-25 session is asked through elicitation (the SDK bridges).
	var asked atomic.Int64
	legacy := mcpSession(t, srv.URL, mcphttp.Stateful, answerDomain("general", &asked), bearer(srv.AdminKey))
	var created struct {
		Task struct{ Domain string } `json:"task"`
	}
	structured(t, callTool(t, legacy, "create_task", args), &created)
	require.Equal(t, "general", created.Task.Domain)
	require.Equal(t, int64(1), asked.Load())

	// Declining creates nothing and says so.
	declining := mcpSession(t, srv.URL, "", answerDomain("", &asked), bearer(srv.AdminKey))
	res := callTool(t, declining, "create_task", args)
	require.True(t, res.IsError)
	require.Contains(t, text(res), "declined")

	// A client that cannot be asked gets the choices in the error.
	mute := mcpSession(t, srv.URL, "", nil, bearer(srv.AdminKey))
	res = callTool(t, mute, "create_task", args)
	require.True(t, res.IsError)
	require.Contains(t, text(res), "domain is required: one of finance, sales")
}

// The request state of an input-required result is sealed with the server's
// secret and bound to the key and the arguments: a changed state, a state
// moved to other arguments, or one presented by another key is refused.
func TestMCPRequestStateIsVerified(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	manual := &mcp.ClientOptions{
		MultiRoundTrip:     &mcp.MultiRoundTripOptions{Disabled: true},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) { return nil, nil },
	}
	cs := mcpSession(t, srv.URL, "", manual, bearer(srv.AdminKey))
	args := map[string]any{"title": "Sealed"}
	first := callTool(t, cs, "create_task", args)
	require.True(t, first.NeedsInput(), "an input-required result")
	require.Contains(t, first.InputRequests, "domain")
	require.NotEmpty(t, first.RequestState)
	answer := mcp.InputResponseMap{"domain": &mcp.ElicitResult{Action: "accept", Content: map[string]any{"domain": "finance"}}}

	retry := func(cs *mcp.ClientSession, args map[string]any, state string) *mcp.CallToolResult {
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "create_task", Arguments: args, InputResponses: answer, RequestState: state})
		require.NoError(t, err)
		return res
	}
	tampered := []byte(first.RequestState)
	tampered[len(tampered)/3] ^= 1
	res := retry(cs, args, string(tampered))
	require.True(t, res.IsError)
	require.Contains(t, text(res), "requestState refused")

	res = retry(cs, map[string]any{"title": "Other arguments"}, first.RequestState)
	require.True(t, res.IsError)
	require.Contains(t, text(res), "other arguments")

	other := mcpSession(t, srv.URL, "", manual, bearer(testkit.CreateKey(t, srv.Env, "other", "read,write")))
	res = retry(other, args, first.RequestState)
	require.True(t, res.IsError)
	require.Contains(t, text(res), "integrity check failed")

	var created struct {
		Task struct{ Domain string } `json:"task"`
	}
	structured(t, retry(cs, args, first.RequestState), &created)
	require.Equal(t, "finance", created.Task.Domain)
}

// rawMCP posts one JSON-RPC body to /mcp with the 2026 header and returns the
// status and body.
func rawMCP(t *testing.T, srv *testkit.Server, body string, headers ...string) (int, string) {
	t.Helper()
	h := append([]string{"Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", mcphttp.Stateless}, headers...)
	resp, b := srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey, strings.NewReader(body), h...)
	return resp.StatusCode, string(b)
}

const meta2026 = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

func TestMCP2026Headers(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta2026 + `}}`
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_task","arguments":{"task_id":"x"},` + meta2026 + `}}`
	read := `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"bizmcp://agents",` + meta2026 + `}}`
	taskGet := `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t1",` + meta2026 + `}}`

	status, body := rawMCP(t, srv, list, "Mcp-Method", "tools/list")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"ttlMs"`)

	for name, tc := range map[string]struct {
		body    string
		headers []string
		want    string
	}{
		"Mcp-Method disagrees with the body": {list, []string{"Mcp-Method", "tools/call"}, "-32020"},
		"a session id on a 2026 request":     {list, []string{"Mcp-Method", "tools/list", "Mcp-Session-Id", "abc"}, "stateless"},
		"no Mcp-Method":                      {list, nil, "-32020"},
		"no _meta":                           {`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`, []string{"Mcp-Method", "tools/list"}, "-32602"},
		"unknown version":                    {strings.ReplaceAll(list, "2026-07-28", "2099-01-01"), []string{"Mcp-Protocol-Version", "2099-01-01", "Mcp-Method", "tools/list"}, "-32022"},
		"removed method":                     {`{"jsonrpc":"2.0","id":1,"method":"ping","params":{` + meta2026 + `}}`, []string{"Mcp-Method", "ping"}, "-32601"},
		"Mcp-Method in another case":         {list, []string{"Mcp-Method", "Tools/List"}, "-32020"},
		"no Mcp-Name on tools/call":          {call, []string{"Mcp-Method", "tools/call"}, "-32020"},
		"Mcp-Name naming another tool":       {call, []string{"Mcp-Method", "tools/call", "Mcp-Name", "cancel_task"}, "-32020"},
		"Mcp-Name naming another resource":   {read, []string{"Mcp-Method", "resources/read", "Mcp-Name", "bizmcp://agents/x"}, "-32020"},
		"no Mcp-Name on tasks/get":           {taskGet, []string{"Mcp-Method", "tasks/get"}, "-32020"},
		"Mcp-Name naming another task":       {taskGet, []string{"Mcp-Method", "tasks/get", "Mcp-Name", "t2"}, "-32020"},
		"Mcp-Method tasks/get on tools/call": {call, []string{"Mcp-Method", "tasks/get", "Mcp-Name", "get_task"}, "-32020"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := rawMCP(t, srv, tc.body, tc.headers...)
			require.GreaterOrEqual(t, status, 400, body)
			require.Less(t, status, 500, body)
			require.Contains(t, body, tc.want)
		})
	}
	status, _ = rawMCP(t, srv, list, "Mcp-Method", "tools/list", "Authorization", "Bearer bmcp_not_a_key")
	require.Equal(t, http.StatusUnauthorized, status, "every 2026 request is authenticated on its own")
}

// Issue 8's hostile MCP input: each is a clear error and the session lives on.
func TestMCPHostileInputKeepsTheSession(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	cs := mcpSession(t, srv.URL, mcphttp.Stateful, nil, bearer(srv.AdminKey))
	ctx := t.Context()

	_, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "bizmcp://tasks/\x00"})
	require.ErrorContains(t, err, "control character")

	_, err = cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "financial_review", Arguments: map[string]string{"period": "FY2026"}})
	require.ErrorContains(t, err, "needs the argument(s) company")

	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"list_tasks", map[string]any{"limit": 1e300}, "limit must be a whole number from 1 to 200"},
		{"list_tasks", map[string]any{"limit": 2.5}, "limit must be a whole number"},
		{"create_task", map[string]any{"title": "x", "domain": "sales", "wait": true, "wait_seconds": 1e300}, "wait_seconds must be a whole number from 1 to 600"},
		{"create_task", map[string]any{"title": "x", "domain": "sales", "wait_seconds": -1e300}, "wait_seconds"},
	} {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tc.tool, Arguments: tc.args})
		if err != nil { // the SDK's schema check may refuse it first
			require.ErrorContains(t, err, "validating")
			continue
		}
		require.True(t, res.IsError, "%s %v", tc.tool, tc.args)
		require.Contains(t, text(res), tc.want)
	}

	// The session is intact.
	res := callTool(t, cs, "list_tasks", map[string]any{"limit": 5})
	require.False(t, res.IsError, text(res))

	// One message per request: trailing data is a parse error, not a
	// silently dropped second message.
	resp, b := srv.Do(t, http.MethodPost, "/mcp", srv.AdminKey,
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}{"jsonrpc":"2.0","id":2,"method":"tools/list"}`),
		"Accept", "application/json, text/event-stream", "Mcp-Session-Id", cs.ID(), "Mcp-Protocol-Version", mcphttp.Stateful)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(b))
	var rpc struct {
		Error struct{ Code int } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(b, &rpc))
	require.Equal(t, -32700, rpc.Error.Code)
	res = callTool(t, cs, "list_tasks", nil)
	require.False(t, res.IsError, text(res))
}

// rpc2026 sends one 2026-07-28 request to srv with key and decodes the
// JSON-RPC answer (JSON or the last message of an SSE stream). withTasks
// declares the Tasks extension in the request's client capabilities.
func rpc2026(t *testing.T, srv *testkit.Server, key, method, name string, params map[string]any, withTasks bool) (result map[string]any, rpcErr map[string]any) {
	t.Helper()
	caps := map[string]any{}
	if withTasks {
		caps["extensions"] = map[string]any{mcptasks.ExtensionID: map[string]any{}}
	}
	params["_meta"] = map[string]any{"io.modelcontextprotocol/protocolVersion": mcphttp.Stateless, "io.modelcontextprotocol/clientCapabilities": caps}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	require.NoError(t, err)
	h := []string{"Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", mcphttp.Stateless, "Mcp-Method", method}
	if name != "" {
		h = append(h, "Mcp-Name", name)
	}
	_, b := srv.Do(t, http.MethodPost, "/mcp", key, strings.NewReader(string(body)), h...)
	text := string(b)
	if strings.Contains(text, "data:") {
		for _, line := range strings.Split(text, "\n") {
			if d, ok := strings.CutPrefix(line, "data:"); ok && strings.TrimSpace(d) != "" {
				text = d
			}
		}
	}
	var msg struct {
		Result map[string]any `json:"result"`
		Error  map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(text), &msg), "answer %q", b)
	return msg.Result, msg.Error
}

// MCP Tasks on the durable tasks: a task-augmented create_task on one
// instance returns a handle only once the task is stored; the other instance
// answers tasks/get for it until its result; other keys and clients that did
// not declare the extension are refused.
func TestMCPTasksOnDurableTasksAcrossInstances(t *testing.T) {
	t.Parallel()
	a := testkit.StartServer(t)
	b := a.StartInstance(t)
	key := a.AdminKey
	args := map[string]any{"title": "Forecast as an MCP task", "domain": "sales",
		"input_data": map[string]any{"series": []float64{10, 12, 14, 16, 18}, "horizon": 1}}

	created, rpcErr := rpc2026(t, a, key, "tools/call", "create_task", map[string]any{"name": "create_task", "arguments": args}, true)
	require.Nil(t, rpcErr)
	require.Equal(t, "task", created["resultType"])
	handle, _ := created["taskId"].(string)
	require.NotEmpty(t, handle)
	require.Equal(t, "working", created["status"])
	require.NotContains(t, created, "result")

	// Strong consistency: the other instance knows it at once.
	var final map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got, rpcErr := rpc2026(t, b, key, "tasks/get", handle, map[string]any{"taskId": handle}, true)
		if !assert.Nil(c, rpcErr) {
			return
		}
		assert.Equal(c, "completed", got["status"])
		final = got
	}, 60*time.Second, 100*time.Millisecond)
	result := final["result"].(map[string]any)
	require.NotEqual(t, true, result["isError"])
	structured := result["structuredContent"].(map[string]any)
	require.Equal(t, "completed", structured["status"])
	require.Contains(t, fmt.Sprint(structured["output_data"]), "20")

	// Cancelling a finished task is acknowledged and changes nothing.
	ack, rpcErr := rpc2026(t, b, key, "tasks/cancel", handle, map[string]any{"taskId": handle}, true)
	require.Nil(t, rpcErr)
	require.Equal(t, map[string]any{"resultType": "complete"}, withoutMeta(ack))

	// Another key: not found, exactly as an unknown id.
	other := testkit.CreateKey(t, a.Env, "other", "read,write")
	_, rpcErr = rpc2026(t, b, other, "tasks/get", handle, map[string]any{"taskId": handle}, true)
	require.Equal(t, float64(-32602), rpcErr["code"])
	_, unknown := rpc2026(t, b, key, "tasks/get", "nope", map[string]any{"taskId": "nope"}, true)
	require.Equal(t, rpcErr["code"], unknown["code"])
	for _, e := range []map[string]any{rpcErr, unknown} {
		require.Regexp(t, `^no task ".*"$`, e["message"], "no hint that another key's task exists")
	}

	// Without the extension: tasks/* is -32021 and create_task answers
	// synchronously.
	_, rpcErr = rpc2026(t, a, key, "tasks/get", handle, map[string]any{"taskId": handle}, false)
	require.Equal(t, float64(-32021), rpcErr["code"])
	sync, rpcErr := rpc2026(t, a, key, "tools/call", "create_task", map[string]any{"name": "create_task", "arguments": args}, false)
	require.Nil(t, rpcErr)
	require.Equal(t, "complete", sync["resultType"])
	require.NotContains(t, sync, "taskId")

	// Mcp-Name must name the task asked about, and is required (SEP-2663
	// routing headers) on every tasks/* call.
	_, rpcErr = rpc2026(t, a, key, "tasks/get", "someone-else", map[string]any{"taskId": handle}, true)
	require.Equal(t, float64(-32020), rpcErr["code"])
	for _, method := range []string{"tasks/get", "tasks/cancel", "tasks/update"} {
		_, rpcErr = rpc2026(t, a, key, method, "", map[string]any{"taskId": handle, "inputResponses": map[string]any{}}, true)
		require.Equal(t, float64(-32020), rpcErr["code"], method)
		require.Contains(t, rpcErr["message"], "Mcp-Name header is required on "+method)
	}

	// A running task is cancelled from the other instance.
	created, rpcErr = rpc2026(t, a, key, "tools/call", "create_task", map[string]any{"name": "create_task",
		"arguments": map[string]any{"title": "Cancel me", "domain": "general", "input_data": map[string]any{"prompt": "hello"}}}, true)
	require.Nil(t, rpcErr)
	handle = created["taskId"].(string)
	_, rpcErr = rpc2026(t, b, key, "tasks/cancel", handle, map[string]any{"taskId": handle}, true)
	require.Nil(t, rpcErr)
	got, rpcErr := rpc2026(t, a, key, "tasks/get", handle, map[string]any{"taskId": handle}, true)
	require.Nil(t, rpcErr)
	require.Contains(t, []any{"cancelled", "completed"}, got["status"], "cancelled, unless it had already ended")

	// tasks/update: bizmcp tasks ask nothing once created, so every answer
	// is to a request not outstanding, ignored as SEP-2663 says, and named.
	ack, rpcErr = rpc2026(t, a, key, "tasks/update", handle, map[string]any{"taskId": handle,
		"inputResponses": map[string]any{"domain": map[string]any{"action": "accept", "content": map[string]any{"domain": "sales"}}}}, true)
	require.Nil(t, rpcErr)
	require.Equal(t, "complete", ack["resultType"])
	require.Equal(t, []any{"domain"}, ack["_meta"].(map[string]any)[mcptasks.MetaIgnoredResponses])
	after, rpcErr := rpc2026(t, a, key, "tasks/get", handle, map[string]any{"taskId": handle}, true)
	require.Nil(t, rpcErr)
	require.Equal(t, got["status"], after["status"], "an ignored answer changes nothing")
	for what, tc := range map[string]struct {
		params map[string]any
		want   string
	}{
		"no inputResponses":      {map[string]any{"taskId": handle}, "inputResponses is required"},
		"another key's or none":  {map[string]any{"taskId": "nope", "inputResponses": map[string]any{}}, "no task"},
		"too many answers":       {map[string]any{"taskId": handle, "inputResponses": manyAnswers(mcptasks.MaxInputResponses + 1)}, "at most"},
		"inputResponses a list":  {map[string]any{"taskId": handle, "inputResponses": []any{1}}, ""},
		"taskId is not a string": {map[string]any{"taskId": 7, "inputResponses": map[string]any{}}, ""},
	} {
		_, rpcErr := rpc2026(t, a, key, "tasks/update", fmt.Sprint(tc.params["taskId"]), tc.params, true)
		require.NotNil(t, rpcErr, what)
		require.Equal(t, float64(-32602), rpcErr["code"], "%s: %v", what, rpcErr)
		require.Contains(t, rpcErr["message"], tc.want, what)
	}
}

func manyAnswers(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[fmt.Sprint("k", i)] = map[string]any{"action": "cancel"}
	}
	return m
}

func withoutMeta(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if k != "_meta" {
			out[k] = v
		}
	}
	return out
}

// llm_processor with a large max_tokens asks the person to confirm the
// estimated cost first: an input-required result for 2026-07-28 clients
// (with sealed request state), an elicitation for 2025-11-25 sessions.
// Declining is a plain result that sent nothing to the provider; a tampered
// state is refused; small calls and clients that cannot be asked run as
// before.
func TestMCPLLMProcessorConfirmsCost(t *testing.T) {
	t.Parallel()
	fake := testkit.StartFakeLLM(t, testkit.ChatReply("gpt-4o-mini", "A long answer.", 100, 200))
	srv := testkit.StartServer(t, withFakeLLM(fake))
	big := map[string]any{"prompt": strings.Repeat("Summarise the quarter. ", 40), "max_tokens": 20000}
	manual := &mcp.ClientOptions{
		MultiRoundTrip:     &mcp.MultiRoundTripOptions{Disabled: true},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) { return nil, nil },
	}
	cs := mcpSession(t, srv.URL, "", manual, bearer(srv.AdminKey))
	first := callTool(t, cs, "llm_processor", big)
	require.True(t, first.NeedsInput(), "a costly call asks first")
	ask := first.InputRequests["confirm_cost"].(*mcp.ElicitParams)
	// gpt-4o-mini: 20000 completion tokens at $0.60/M is $0.012, plus about
	// 230 prompt tokens at $0.15/M.
	require.Contains(t, ask.Message, "may cost up to $0.012")
	require.Contains(t, ask.Message, "gpt-4o-mini")
	require.Empty(t, fake.Requests(), "nothing is sent before the answer")

	answer := func(cs *mcp.ClientSession, args map[string]any, state string, r *mcp.ElicitResult) *mcp.CallToolResult {
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "llm_processor", Arguments: args,
			InputResponses: mcp.InputResponseMap{"confirm_cost": r}, RequestState: state})
		require.NoError(t, err)
		return res
	}
	yes := &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}

	tampered := []byte(first.RequestState)
	tampered[len(tampered)/2] ^= 1
	res := answer(cs, big, string(tampered), yes)
	require.True(t, res.IsError)
	require.Contains(t, text(res), "requestState refused")
	costlier := map[string]any{"prompt": big["prompt"], "max_tokens": 32768}
	res = answer(cs, costlier, first.RequestState, yes)
	require.True(t, res.IsError, "a confirmation does not carry over to other arguments")
	require.Contains(t, text(res), "other arguments")

	for _, no := range []*mcp.ElicitResult{{Action: "decline"}, {Action: "accept", Content: map[string]any{"confirm": false}}, {Action: "cancel"}} {
		res = answer(cs, big, first.RequestState, no)
		require.False(t, res.IsError, "declining is not an error")
		require.Contains(t, text(res), "Not run")
		var out struct {
			FinishReason string `json:"finish_reason"`
		}
		structured(t, res, &out)
		require.Equal(t, "declined", out.FinishReason)
	}
	require.Empty(t, fake.Requests(), "a declined call costs nothing")

	var done struct{ Content string }
	structured(t, answer(cs, big, first.RequestState, yes), &done)
	require.Equal(t, "A long answer.", done.Content)
	require.Len(t, fake.Requests(), 1)

	// A 2025-11-25 session is asked through elicitation.
	var asked atomic.Int64
	var question atomic.Value
	legacy := mcpSession(t, srv.URL, mcphttp.Stateful, &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		asked.Add(1)
		question.Store(req.Params.Message)
		return &mcp.ElicitResult{Action: "decline"}, nil
	}}, bearer(srv.AdminKey))
	res = callTool(t, legacy, "llm_processor", big)
	require.False(t, res.IsError)
	require.Contains(t, text(res), "Not run")
	require.Equal(t, int64(1), asked.Load())
	require.Contains(t, question.Load(), "may cost up to $")

	// Small calls, and clients that cannot ask a person, run at once.
	res = callTool(t, legacy, "llm_processor", map[string]any{"prompt": "hi", "max_tokens": 100})
	require.False(t, res.IsError, text(res))
	mute := mcpSession(t, srv.URL, "", nil, bearer(srv.AdminKey))
	res = callTool(t, mute, "llm_processor", big)
	require.False(t, res.IsError, text(res))
	require.False(t, res.NeedsInput())
	require.Equal(t, int64(1), asked.Load())
	require.Len(t, fake.Requests(), 3)
}

// Absurd _meta on 2026-07-28 requests: wrong types, unknown or mangled
// versions, capabilities nested without end, NUL or invalid UTF-8, a huge
// value. Each is a JSON-RPC error naming the problem (never a 5xx, never a
// plain-text answer), or served when it is merely odd; the server serves the
// next request as before.
func TestMCP2026HostileMeta(t *testing.T) {
	t.Parallel()
	srv := testkit.StartServer(t)
	withMeta := func(method, meta string) string {
		params := `"_meta":` + meta
		switch method {
		case "tasks/get":
			params = `"taskId":"x",` + params
		}
		return `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":{` + params + `}}`
	}
	meta := func(version, caps string) string {
		return `{"io.modelcontextprotocol/protocolVersion":` + version + `,"io.modelcontextprotocol/clientCapabilities":` + caps + `}`
	}
	deep := strings.Repeat(`{"a":`, 3000) + `1` + strings.Repeat(`}`, 3000)
	tasksAs := func(v string) string { return `{"extensions":{"` + mcptasks.ExtensionID + `":` + v + `}}` }
	for name, tc := range map[string]struct {
		method, meta string
		headers      []string
		code         int // 0: served
		says         string
	}{
		"_meta a string":                {"tools/list", `"everything"`, nil, -32602, "protocolVersion"},
		"_meta an array":                {"tools/list", `[1,2]`, nil, -32602, "protocolVersion"},
		"_meta null":                    {"tools/list", `null`, nil, -32602, "protocolVersion"},
		"version a number":              {"tools/list", meta(`20260728`, `{}`), nil, -32602, "protocolVersion"},
		"version with a NUL":            {"tools/list", meta(`"2026-07-28\u0000"`, `{}`), nil, -32020, "does not match"},
		"unknown version in _meta":      {"tools/list", meta(`"1999-01-01"`, `{}`), nil, -32020, "does not match"},
		"unknown version everywhere":    {"tools/list", meta(`"2099-12-31"`, `{}`), []string{"Mcp-Protocol-Version", "2099-12-31"}, -32022, "unsupported protocol version"},
		"capabilities a string":         {"tools/list", meta(`"2026-07-28"`, `"all of them"`), nil, -32602, "clientCapabilities"},
		"capabilities an array":         {"tools/list", meta(`"2026-07-28"`, `[{}]`), nil, -32602, "clientCapabilities"},
		"capabilities of wrong types":   {"tools/list", meta(`"2026-07-28"`, `{"extensions":"x","elicitation":7}`), nil, -32602, "clientCapabilities"},
		"capabilities nested 3000 deep": {"tools/list", meta(`"2026-07-28"`, deep), nil, -32600, "nests"},
		"clientInfo a string":           {"tools/list", `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":"me"}`, nil, -32602, "clientInfo"},
		"NUL in capabilities":           {"tools/list", meta(`"2026-07-28"`, `{"experimental":{"a\u0000b":{"\u0000":"\u0000"}}}`), nil, 0, ""},
		"huge capabilities":             {"tools/list", meta(`"2026-07-28"`, `{"experimental":{"x":"`+strings.Repeat("A", 200_000)+`"}}`), nil, 0, ""},
		"tasks declared as a string":    {"tasks/get", meta(`"2026-07-28"`, tasksAs(`"yes"`)), []string{"Mcp-Name", "x"}, -32021, mcptasks.ExtensionID},
		"tasks declared as null":        {"tasks/get", meta(`"2026-07-28"`, tasksAs(`null`)), []string{"Mcp-Name", "x"}, -32021, mcptasks.ExtensionID},
		"tasks under a NUL name":        {"tasks/get", meta(`"2026-07-28"`, `{"extensions":{"io.modelcontextprotocol/tasks\u0000":{}}}`), []string{"Mcp-Name", "x"}, -32021, mcptasks.ExtensionID},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := rawMCP(t, srv, withMeta(tc.method, tc.meta), append([]string{"Mcp-Method", tc.method}, tc.headers...)...)
			require.Less(t, status, 500, body)
			// An SSE answer carries the message on its data line; a JSON
			// answer is the message (whose text may hold "data: " too).
			if strings.HasPrefix(body, "event:") || strings.HasPrefix(body, "data:") {
				if d := strings.Index(body, "data: "); d >= 0 {
					body = body[d+len("data: "):]
				}
			}
			var msg struct {
				ID     any             `json:"id"`
				Result json.RawMessage `json:"result"`
				Error  *struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &msg), "a JSON-RPC answer, not %q", body)
			if tc.code == 0 {
				require.Nil(t, msg.Error, body)
				require.Contains(t, string(msg.Result), `"tools"`)
				return
			}
			require.NotNil(t, msg.Error, body)
			require.Equal(t, tc.code, msg.Error.Code, msg.Error.Message)
			require.Contains(t, msg.Error.Message, tc.says)
		})
	}
	status, body := rawMCP(t, srv, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{`+meta2026+`}}`, "Mcp-Method", "tools/list")
	require.Equal(t, http.StatusOK, status, body)
}

// A flood of tasks/get (and of the removed tasks/result) is rate limited
// like any request: past the key's limit each poll is 429 with Retry-After
// and a message saying so, none is a 5xx; and neither polls nor listens
// opened and dropped leave goroutines behind. Not parallel: it counts the
// process's goroutines.
func TestMCPTaskPollFloodIsRateLimited(t *testing.T) {
	srv := testkit.StartServer(t)
	const limit = 20
	key := testkit.CreateKey(t, srv.Env, "poller", "read,write", "--rate-limit", fmt.Sprint(limit))
	created, rpcErr := rpc2026(t, srv, key, "tools/call", "create_task", map[string]any{"name": "create_task",
		"arguments": map[string]any{"title": "Polled", "domain": "sales", "input_data": map[string]any{"series": []float64{1, 2, 3}}}}, true)
	require.Nil(t, rpcErr)
	handle := created["taskId"].(string)
	baseline := runtime.NumGoroutine()

	var answered, limited int
	for i := range 3 * limit {
		method := "tasks/get"
		if i%5 == 4 {
			method = "tasks/result"
		}
		body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":{"taskId":"` + handle + `","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"` + mcptasks.ExtensionID + `":{}}}}}}`
		resp, b := srv.Do(t, http.MethodPost, "/mcp", key, strings.NewReader(body),
			"Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", mcphttp.Stateless, "Mcp-Method", method, "Mcp-Name", handle)
		require.Less(t, resp.StatusCode, 500, string(b))
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			require.NotEmpty(t, resp.Header.Get("Retry-After"))
			require.Contains(t, string(b), fmt.Sprintf("rate limit of %d requests per minute", limit))
			continue
		}
		answered++
	}
	require.LessOrEqual(t, answered, limit, "at most the key's limit is served")
	require.GreaterOrEqual(t, limited, 2*limit-1)

	// Listens opened on the task and dropped by their clients end with
	// their goroutines (the admin key has its own limit).
	pauseAgents(t, srv)
	created, rpcErr = rpc2026(t, srv, srv.AdminKey, "tools/call", "create_task", map[string]any{"name": "create_task",
		"arguments": map[string]any{"title": "Watched", "domain": "sales", "input_data": map[string]any{"series": []float64{1, 2, 3}}}}, true)
	require.Nil(t, rpcErr)
	for range 30 {
		ctx, cancel := context.WithCancel(t.Context())
		body := `{"jsonrpc":"2.0","id":"l","method":"subscriptions/listen","params":{"notifications":{"taskIds":["` + created["taskId"].(string) + `"]},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"` + mcptasks.ExtensionID + `":{}}}}}}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/mcp", strings.NewReader(body))
		require.NoError(t, err)
		for k, v := range map[string]string{"Authorization": "Bearer " + srv.AdminKey, "Content-Type": "application/json",
			"Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": mcphttp.Stateless, "Mcp-Method": "subscriptions/listen"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		line, err := bufio.NewReader(resp.Body).ReadString('\n') // the stream is open
		require.NoError(t, err, line)
		cancel()
		_ = resp.Body.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.LessOrEqual(c, runtime.NumGoroutine(), baseline+15, "goroutines left behind by polls or listens")
	}, 20*time.Second, 100*time.Millisecond)
}
