package mcphttp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/mcphttp"
)

type echoArgs struct {
	Text string `json:"text"`
}

// serve starts a small MCP server behind the router and returns its URL.
func serve(t *testing.T) string {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "router-test", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "echoes text"},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	mcp.AddTool(srv, &mcp.Tool{Name: "chatty", Description: "reports progress and logs before it answers"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			if token := req.Params.GetProgressToken(); token != nil {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: 1, Total: 2, Message: "half"})
			}
			_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "working"})
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
		})
	srv.AddResource(&mcp.Resource{URI: "test://a", Name: "a", MIMEType: "text/plain"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "a"}}}, nil
		})
	ts := httptest.NewServer(mcphttp.New(srv, mcphttp.Options{SessionTimeout: time.Minute}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// sessionRecorder records the Mcp-Session-Id headers of a client's requests.
type sessionRecorder struct {
	ids []string
}

func (r *sessionRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.ids = append(r.ids, req.Header.Get("Mcp-Session-Id"))
	return http.DefaultTransport.RoundTrip(req)
}

func connect(t *testing.T, url, version string, rt http.RoundTripper) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint: url, MaxRetries: -1, HTTPClient: &http.Client{Transport: rt},
	}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func callEcho(t *testing.T, cs *mcp.ClientSession, text string) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	require.Equal(t, text, res.Content[0].(*mcp.TextContent).Text)
}

func TestBothRevisionsOnOneURL(t *testing.T) {
	t.Parallel()
	url := serve(t)

	rec := &sessionRecorder{}
	modern := connect(t, url, "", rec)
	require.Equal(t, mcphttp.Stateless, modern.InitializeResult().ProtocolVersion)
	callEcho(t, modern, "stateless")
	for _, id := range rec.ids {
		require.Empty(t, id, "a 2026-07-28 client was given a session")
	}

	legacy := connect(t, url, mcphttp.Stateful, http.DefaultTransport)
	require.Equal(t, mcphttp.Stateful, legacy.InitializeResult().ProtocolVersion)
	require.NotEmpty(t, legacy.ID(), "a 2025-11-25 client gets a session")
	callEcho(t, legacy, "stateful")
}

// post sends body as one raw POST and decodes the JSON-RPC error.
func post(t *testing.T, url, body string, header map[string]string) (int, int64, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var msg struct {
		Error struct {
			Code    int64  `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(b, &msg), "body %q", b)
	return resp.StatusCode, msg.Error.Code, msg.Error.Message
}

func TestRefusesWhatTheSDKWouldMishandle(t *testing.T) {
	t.Parallel()
	url := serve(t)
	modern := map[string]string{"Mcp-Protocol-Version": mcphttp.Stateless}
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`

	for name, tc := range map[string]struct {
		body   string
		header map[string]string
		code   int64
		says   string
	}{
		"trailing message":     {call + `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, modern, -32700, "after the JSON-RPC message"},
		"trailing garbage":     {call + ` x`, modern, -32700, "after the JSON-RPC message"},
		"not JSON":             {`{"jsonrpc":`, modern, -32700, "not JSON"},
		"invalid UTF-8":        {strings.Replace(call, "tools/list", "tools/\xfflist", 1), modern, -32700, "UTF-8"},
		"not an object":        {`"hello"`, modern, -32600, "JSON object"},
		"method not a string":  {`{"jsonrpc":"2.0","id":1,"method":5}`, modern, -32600, "cannot unmarshal"},
		"wrong type, trailing": {`{"jsonrpc":"2.0","id":1,"method":5} x`, modern, -32700, "after the JSON-RPC message"},
		"empty":                {" \n", modern, -32700, "not JSON"},
		"2026 with session id": {call, map[string]string{"Mcp-Protocol-Version": mcphttp.Stateless, "Mcp-Session-Id": "abc"}, -32600, "Mcp-Session-Id"},
		"nested too deep": {strings.Replace(call, `"params":{`, `"params":{"x":`+strings.Repeat("[", mcphttp.MaxNesting)+strings.Repeat("]", mcphttp.MaxNesting)+`,`, 1),
			modern, -32600, "nests"},
		"brackets in strings do not count": {strings.Replace(call, `"params":{`, `"params":{"x":"`+strings.Repeat("[", 500)+`",`, 1),
			map[string]string{"Mcp-Protocol-Version": mcphttp.Stateless, "Mcp-Session-Id": "abc"}, -32600, "Mcp-Session-Id"},
	} {
		t.Run(name, func(t *testing.T) {
			status, code, msg := post(t, url, tc.body, tc.header)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, tc.code, code)
			require.Contains(t, msg, tc.says)
		})
	}
}

// A control character in a resources/read URI once ended the session it was
// sent on: the SDK echoed the URI into its not-found error in a form that is
// not valid JSON. The router refuses it first and the session lives on.
func TestControlCharacterURIKeepsTheSession(t *testing.T) {
	t.Parallel()
	url := serve(t)
	cs := connect(t, url, mcphttp.Stateful, http.DefaultTransport)
	for _, uri := range []string{"test://a\x00b", "test://\x1b[31m", "test://a\u0085"} {
		_, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: uri})
		require.ErrorContains(t, err, "control character")
	}
	res, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: "test://a"})
	require.NoError(t, err, "the session must survive a hostile URI")
	require.Equal(t, "a", res.Contents[0].Text)
	callEcho(t, cs, "still here")

	// A 2026 client cannot even send it (the SDK puts the URI in the
	// Mcp-Name header); a hand-written request gets the same answer.
	status, code, msg := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://a\u0000","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
		map[string]string{"Mcp-Protocol-Version": mcphttp.Stateless})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, int64(-32602), code)
	require.Contains(t, msg, "U+0000")
}

// rawPost sends body as one 2026-07-28 POST and returns the response's
// Content-Type and body.
func rawPost(t *testing.T, url, body string) (string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", mcphttp.Stateless)
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", "chatty")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body %s", b)
	return resp.Header.Get("Content-Type"), string(b)
}

// A 2026 request that can receive nothing before its response is answered
// with one JSON body; one with a progress token or a log level gets the SSE
// stream, with its notifications before the response.
func TestStatelessAnswersJSONUnlessNotificationsAreAsked(t *testing.T) {
	t.Parallel()
	url := serve(t)
	call := func(meta string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"chatty","arguments":{},"_meta":{` + meta +
			`"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	}

	ctype, body := rawPost(t, url, call(""))
	require.Equal(t, "application/json", ctype)
	var resp struct {
		ID     int `json:"id"`
		Result struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &resp), "body %s", body)
	require.Equal(t, 7, resp.ID)
	require.Equal(t, "done", resp.Result.Content[0].Text)

	ctype, body = rawPost(t, url, call(`"progressToken":"p1",`))
	require.Equal(t, "text/event-stream", ctype)
	progress := strings.Index(body, `"method":"notifications/progress"`)
	require.GreaterOrEqual(t, progress, 0, "no progress notification in %s", body)
	require.Contains(t, body, `"progressToken":"p1"`)
	require.Less(t, progress, strings.Index(body, `"result"`), "progress must come before the response")

	ctype, body = rawPost(t, url, call(`"io.modelcontextprotocol/logLevel":"debug",`))
	require.Equal(t, "text/event-stream", ctype)
	logged := strings.Index(body, `"method":"notifications/message"`)
	require.GreaterOrEqual(t, logged, 0, "no log message in %s", body)
	require.Less(t, logged, strings.Index(body, `"result"`))
}

// The SDK's own 2026 client gets its progress notifications through the
// router, and a plain call still works.
func TestStatelessClientProgress(t *testing.T) {
	t.Parallel()
	url := serve(t)
	got := make(chan *mcp.ProgressNotificationParams, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			select {
			case got <- req.Params:
			default:
			}
		},
	})
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	require.Equal(t, mcphttp.Stateless, cs.InitializeResult().ProtocolVersion)

	params := &mcp.CallToolParams{Name: "chatty", Arguments: map[string]any{}}
	params.SetProgressToken("tok")
	res, err := cs.CallTool(t.Context(), params)
	require.NoError(t, err)
	require.Equal(t, "done", res.Content[0].(*mcp.TextContent).Text)
	select {
	case p := <-got:
		require.Equal(t, "half", p.Message)
		require.Equal(t, "tok", p.ProgressToken)
	case <-time.After(10 * time.Second):
		// The client hands notifications to its handler asynchronously,
		// so it may run just after CallTool returns; it never comes
		// without the SSE stream.
		t.Fatal("the progress notification did not arrive")
	}
	callEcho(t, cs, "plain")
}
