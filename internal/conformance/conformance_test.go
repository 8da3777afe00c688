package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/conformance"
)

// wireVersion is the protocol revision the suite's scored scenarios speak;
// the tests pin the client to it so they exercise the same stateful
// initialize path rather than the SDK's newer default.
const wireVersion = "2025-11-25"

// maxBodyBytes mirrors the body limit the real server puts in front of MCP.
const maxBodyBytes = 1 << 20

// handler wraps the conformance handler in the middleware the real server
// uses in front of it: cross-origin protection and a body limit.
func handler(srv *mcp.Server) http.Handler {
	h := conformance.NewHandler(srv, &mcp.StreamableHTTPOptions{MaxRequestBodyBytes: maxBodyBytes})
	return http.NewCrossOriginProtection().Handler(http.MaxBytesHandler(h, maxBodyBytes))
}

// serve starts the fixtures on an httptest server on 127.0.0.1 and returns
// the endpoint URL and the MCP server behind it.
func serve(t *testing.T) (string, *mcp.Server) {
	t.Helper()
	srv := conformance.NewServer()
	ts := httptest.NewServer(handler(srv))
	t.Cleanup(ts.Close)
	return ts.URL + "/mcp", srv
}

// connect opens a client session against url at the suite's wire version.
func connect(t *testing.T, url string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "conformance-test", Version: "1.0.0"}, opts)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: wireVersion})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// callTool calls name with args and fails the test on a protocol error.
func callTool(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err)
	return res
}

// onlyText returns the text of a result made of one text block.
func onlyText(t *testing.T, content []mcp.Content) string {
	t.Helper()
	require.Len(t, content, 1)
	tc, ok := content[0].(*mcp.TextContent)
	require.True(t, ok, "content is %T, want text", content[0])
	return tc.Text
}

// pngMagic starts every PNG file.
const pngMagic = "\x89PNG\r\n\x1a\n"

func TestInitializeAdvertisesFixtureCapabilities(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	cs := connect(t, url, nil)

	init := cs.InitializeResult()
	require.Equal(t, wireVersion, init.ProtocolVersion)
	require.Equal(t, conformance.ServerName, init.ServerInfo.Name)
	caps := init.Capabilities
	require.NotNil(t, caps.Tools)
	require.NotNil(t, caps.Prompts)
	require.NotNil(t, caps.Resources)
	require.True(t, caps.Resources.Subscribe)
	require.NotNil(t, caps.Completions)
	require.NotNil(t, caps.Logging)
	require.NotEmpty(t, cs.ID(), "a stateful server hands out a session id")
	require.NoError(t, cs.Ping(t.Context(), nil))
}

func TestToolsListHasEveryFixtureWithDescriptionAndSchema(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	cs := connect(t, url, nil)

	res, err := cs.ListTools(t.Context(), nil)
	require.NoError(t, err)
	got := map[string]bool{}
	for _, tool := range res.Tools {
		got[tool.Name] = true
		require.NotEmpty(t, tool.Description, tool.Name)
		require.NotNil(t, tool.InputSchema, tool.Name)
	}
	for _, name := range []string{
		"test_simple_text", "test_image_content", "test_audio_content", "test_embedded_resource",
		"test_multiple_content_types", "test_tool_with_logging", "test_tool_with_progress",
		"test_error_handling", "test_sampling", "test_elicitation",
		"test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums",
	} {
		require.True(t, got[name], "tools/list lacks %s", name)
	}
}

func TestContentTools(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	cs := connect(t, url, nil)

	t.Run("text without arguments", func(t *testing.T) {
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "test_simple_text"})
		require.NoError(t, err)
		require.False(t, res.IsError)
		require.Equal(t, "This is a simple text response for testing.", onlyText(t, res.Content))
	})
	t.Run("image", func(t *testing.T) {
		res := callTool(t, cs, "test_image_content", map[string]any{})
		require.Len(t, res.Content, 1)
		img, ok := res.Content[0].(*mcp.ImageContent)
		require.True(t, ok, "content is %T", res.Content[0])
		require.Equal(t, "image/png", img.MIMEType)
		require.True(t, bytes.HasPrefix(img.Data, []byte(pngMagic)))
	})
	t.Run("audio", func(t *testing.T) {
		res := callTool(t, cs, "test_audio_content", map[string]any{})
		require.Len(t, res.Content, 1)
		audio, ok := res.Content[0].(*mcp.AudioContent)
		require.True(t, ok, "content is %T", res.Content[0])
		require.Equal(t, "audio/wav", audio.MIMEType)
		require.True(t, bytes.HasPrefix(audio.Data, []byte("RIFF")))
	})
	t.Run("embedded resource", func(t *testing.T) {
		res := callTool(t, cs, "test_embedded_resource", map[string]any{})
		require.Len(t, res.Content, 1)
		er, ok := res.Content[0].(*mcp.EmbeddedResource)
		require.True(t, ok, "content is %T", res.Content[0])
		require.Equal(t, "test://embedded-resource", er.Resource.URI)
		require.Equal(t, "text/plain", er.Resource.MIMEType)
		require.NotEmpty(t, er.Resource.Text)
	})
	t.Run("mixed", func(t *testing.T) {
		res := callTool(t, cs, "test_multiple_content_types", map[string]any{})
		require.Len(t, res.Content, 3)
		require.IsType(t, &mcp.TextContent{}, res.Content[0])
		require.IsType(t, &mcp.ImageContent{}, res.Content[1])
		require.IsType(t, &mcp.EmbeddedResource{}, res.Content[2])
	})
	t.Run("error is a result, not a protocol error", func(t *testing.T) {
		res := callTool(t, cs, "test_error_handling", map[string]any{})
		require.True(t, res.IsError)
		require.Equal(t, "This tool intentionally returns an error for testing", onlyText(t, res.Content))
	})
	t.Run("unknown tool is a protocol error", func(t *testing.T) {
		_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "no_such_tool"})
		require.Error(t, err)
	})
}

func TestLoggingToolHonoursLevel(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	var (
		mu   sync.Mutex
		logs []string
	)
	cs := connect(t, url, &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			mu.Lock()
			defer mu.Unlock()
			logs = append(logs, req.Params.Data.(string))
		},
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(logs) }

	// Above the tool's info level nothing is sent.
	require.NoError(t, cs.SetLoggingLevel(t.Context(), &mcp.SetLoggingLevelParams{Level: "error"}))
	callTool(t, cs, "test_tool_with_logging", map[string]any{})
	require.Zero(t, count())

	require.NoError(t, cs.SetLoggingLevel(t.Context(), &mcp.SetLoggingLevelParams{Level: "debug"}))
	res := callTool(t, cs, "test_tool_with_logging", map[string]any{})
	require.False(t, res.IsError)
	require.Eventually(t, func() bool { return count() == 3 }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"Tool execution started", "Tool processing data", "Tool execution completed"}, logs)
}

func TestProgressToolReportsAgainstToken(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	var (
		mu       sync.Mutex
		progress []float64
	)
	cs := connect(t, url, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			if req.Params.ProgressToken == "tok-1" {
				progress = append(progress, req.Params.Progress)
			}
		},
	})

	params := &mcp.CallToolParams{Name: "test_tool_with_progress", Arguments: map[string]any{}}
	params.SetProgressToken("tok-1")
	res, err := cs.CallTool(t.Context(), params)
	require.NoError(t, err)
	require.Equal(t, "tok-1", onlyText(t, res.Content))
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(progress) == 3 },
		5*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []float64{0, 50, 100}, progress)
}

func TestSamplingAndElicitationRoundTrip(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	var (
		mu      sync.Mutex
		schemas = map[string]map[string]any{}
	)
	cs := connect(t, url, &mcp.ClientOptions{
		CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			prompt := req.Params.Messages[0].Content.(*mcp.TextContent).Text
			return &mcp.CreateMessageResult{
				Role: "assistant", Model: "test-model", StopReason: "endTurn",
				Content: &mcp.TextContent{Text: "echo: " + prompt},
			}, nil
		},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			raw, err := json.Marshal(req.Params.RequestedSchema)
			if err != nil {
				return nil, err
			}
			var schema map[string]any
			if err := json.Unmarshal(raw, &schema); err != nil {
				return nil, err
			}
			mu.Lock()
			schemas[req.Params.Message] = schema
			mu.Unlock()
			switch req.Params.Message {
			case "Test defaults for primitives":
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Jane Smith", "age": 25}}, nil
			case "Test enum schemas":
				return &mcp.ElicitResult{Action: "decline"}, nil
			}
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "testuser", "email": "test@example.com"}}, nil
		},
	})

	res := callTool(t, cs, "test_sampling", map[string]any{"prompt": "hi"})
	require.Equal(t, "LLM response: echo: hi", onlyText(t, res.Content))

	res = callTool(t, cs, "test_elicitation", map[string]any{"message": "Who are you?"})
	require.Equal(t, `User response: action=accept, content={"email":"test@example.com","username":"testuser"}`,
		onlyText(t, res.Content))

	// The SDK applies the schema's defaults to fields the user left out.
	res = callTool(t, cs, "test_elicitation_sep1034_defaults", map[string]any{})
	text := onlyText(t, res.Content)
	require.Contains(t, text, `"name":"Jane Smith"`)
	require.Contains(t, text, `"verified":true`)

	res = callTool(t, cs, "test_elicitation_sep1330_enums", map[string]any{})
	require.Equal(t, "User response: action=decline, content=null", onlyText(t, res.Content))

	mu.Lock()
	defer mu.Unlock()
	props := schemas["Test defaults for primitives"]["properties"].(map[string]any)
	require.Equal(t, "John Doe", props["name"].(map[string]any)["default"])
	require.InDelta(t, 95.5, props["score"].(map[string]any)["default"], 0)
	enums := schemas["Test enum schemas"]["properties"].(map[string]any)
	require.Contains(t, enums["titledSingle"], "oneOf")
	require.Contains(t, enums["legacyEnum"], "enumNames")
	require.Equal(t, "array", enums["titledMulti"].(map[string]any)["type"])
}

func TestServerRequestsNeedClientCapability(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	cs := connect(t, url, nil) // declares neither sampling nor elicitation

	res := callTool(t, cs, "test_elicitation", map[string]any{"message": "Who are you?"})
	require.True(t, res.IsError)
	require.Contains(t, onlyText(t, res.Content), "elicitation")
}

func TestResources(t *testing.T) {
	t.Parallel()
	url, srv := serve(t)
	updated := make(chan string, 16)
	cs := connect(t, url, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			select {
			case updated <- req.Params.URI:
			default:
			}
		},
	})
	ctx := t.Context()

	list, err := cs.ListResources(ctx, nil)
	require.NoError(t, err)
	uris := map[string]string{}
	for _, r := range list.Resources {
		uris[r.URI] = r.MIMEType
	}
	require.Equal(t, map[string]string{
		"test://static-text": "text/plain", "test://static-binary": "image/png", "test://watched-resource": "text/plain",
	}, uris)

	templates, err := cs.ListResourceTemplates(ctx, nil)
	require.NoError(t, err)
	require.Len(t, templates.ResourceTemplates, 1)
	require.Equal(t, "test://template/{id}/data", templates.ResourceTemplates[0].URITemplate)

	text, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://static-text"})
	require.NoError(t, err)
	require.Equal(t, "This is the content of the static text resource.", text.Contents[0].Text)

	bin, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://static-binary"})
	require.NoError(t, err)
	require.Equal(t, "image/png", bin.Contents[0].MIMEType)
	require.True(t, bytes.HasPrefix(bin.Contents[0].Blob, []byte(pngMagic)))

	tmpl, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://template/123/data"})
	require.NoError(t, err)
	require.Equal(t, "test://template/123/data", tmpl.Contents[0].URI)
	require.JSONEq(t, `{"id":"123","templateTest":true,"data":"Data for ID: 123"}`, tmpl.Contents[0].Text)

	_, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "test://nonexistent"})
	require.Error(t, err)

	require.Error(t, cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "test://nonexistent"}))

	// Subscribed, the client hears about updates; unsubscribed, it does not.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() { _ = conformance.WatchResource(watchCtx, srv, 20*time.Millisecond) }()
	require.NoError(t, cs.Subscribe(ctx, &mcp.SubscribeParams{URI: conformance.WatchedResourceURI}))
	select {
	case uri := <-updated:
		require.Equal(t, conformance.WatchedResourceURI, uri)
	case <-time.After(5 * time.Second):
		t.Fatal("no resource update after subscribing")
	}
	require.NoError(t, cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: conformance.WatchedResourceURI}))
	// Updates already on the wire may still land (they travel on the GET
	// stream, the unsubscribe's answer on its POST). The watcher keeps
	// firing every 20 ms, so while the subscription lives an update comes
	// at least every few ms of server time: a gap of 300 ms with none says
	// the stream has stopped, and the next 300 ms must stay as quiet.
	quiet := func(d time.Duration) bool {
		select {
		case <-updated:
			return false
		case <-time.After(d):
			return true
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !quiet(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("updates kept arriving for 10 s after unsubscribing")
		}
	}
	require.True(t, quiet(300*time.Millisecond), "an update arrived after unsubscribing, past a quiet gap")
}

func TestPromptsAndCompletion(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	cs := connect(t, url, nil)
	ctx := t.Context()

	list, err := cs.ListPrompts(ctx, nil)
	require.NoError(t, err)
	names := []string{}
	for _, p := range list.Prompts {
		names = append(names, p.Name)
	}
	require.ElementsMatch(t, []string{
		"test_simple_prompt", "test_prompt_with_arguments", "test_prompt_with_embedded_resource", "test_prompt_with_image",
		"test_input_required_result_prompt",
	}, names)

	simple, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "test_simple_prompt"})
	require.NoError(t, err)
	require.Equal(t, "This is a simple prompt for testing.", onlyText(t, []mcp.Content{simple.Messages[0].Content}))

	withArgs, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{
		Name: "test_prompt_with_arguments", Arguments: map[string]string{"arg1": "a", "arg2": "b"},
	})
	require.NoError(t, err)
	require.Equal(t, "Prompt with arguments: arg1='a', arg2='b'", withArgs.Messages[0].Content.(*mcp.TextContent).Text)

	_, err = cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "test_prompt_with_arguments", Arguments: map[string]string{"arg1": "a"}})
	var rpcErr *jsonrpc.Error
	require.ErrorAs(t, err, &rpcErr, "required arguments are enforced")
	require.Equal(t, int64(jsonrpc.CodeInvalidParams), rpcErr.Code)

	embedded, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{
		Name: "test_prompt_with_embedded_resource", Arguments: map[string]string{"resourceUri": "test://example-resource"},
	})
	require.NoError(t, err)
	require.Equal(t, "test://example-resource", embedded.Messages[0].Content.(*mcp.EmbeddedResource).Resource.URI)

	image, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "test_prompt_with_image"})
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(image.Messages[0].Content.(*mcp.ImageContent).Data, []byte(pngMagic)))

	comp, err := cs.Complete(ctx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "test_prompt_with_arguments"},
		Argument: mcp.CompleteParamsArgument{Name: "arg1", Value: "par"},
	})
	require.NoError(t, err)
	require.Equal(t, []string{"paris", "park", "party"}, comp.Completion.Values)

	none, err := cs.Complete(ctx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: "test_prompt_with_arguments"},
		Argument: mcp.CompleteParamsArgument{Name: "arg1", Value: "zzz"},
	})
	require.NoError(t, err)
	require.NotNil(t, none.Completion.Values, "values is an array even when empty")
	require.Empty(t, none.Completion.Values)
}

// initializeBody is a raw initialize request at the suite's wire version.
const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// post sends body as a raw MCP POST with the given Host and Origin headers
// (when not empty) and returns the response status.
func post(t *testing.T, url, body, host, origin string, extra map[string]string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestHostileRequestsAreRejected(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	port := url[strings.LastIndex(url, ":")+1 : strings.LastIndex(url, "/")]

	// What the suite's dns-rebinding-protection scenario sends.
	require.Equal(t, http.StatusForbidden, post(t, url, initializeBody, "evil.example.com", "http://evil.example.com", nil))
	require.Equal(t, http.StatusOK, post(t, url, initializeBody, "localhost:"+port, "http://localhost:"+port, nil))
	// A browser's cross-site request is stopped by the cross-origin middleware.
	require.Equal(t, http.StatusForbidden, post(t, url, initializeBody, "", "http://evil.example.com",
		map[string]string{"Sec-Fetch-Site": "cross-site"}))

	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"pad":"` + strings.Repeat("x", maxBodyBytes) + `"}}}`
	require.Equal(t, http.StatusRequestEntityTooLarge, post(t, url, big, "", "", nil))
}

// TestServeForSuite serves the fixtures, behind the same middleware as the
// other tests, at $CONFORMANCE_SERVE_ADDR (for example localhost:3001) until
// interrupted, so scripts/conformance.sh can run the official suite against
// http://localhost:PORT/mcp without the database and Redis the full server
// needs. It is skipped unless that variable is set.
func TestServeForSuite(t *testing.T) {
	addr := os.Getenv("CONFORMANCE_SERVE_ADDR")
	if addr == "" {
		t.Skip("set CONFORMANCE_SERVE_ADDR=localhost:PORT to serve the fixtures for the conformance suite")
	}
	host, _, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("CONFORMANCE_SERVE_ADDR must be a loopback address, got %q", addr)
	}
	ctx, stop := signal.NotifyContext(t.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := conformance.NewServer()
	go func() { _ = conformance.WatchResource(ctx, srv, 3*time.Second) }()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	hs := &http.Server{Handler: handler(srv), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdownCtx)
	}()
	t.Logf("serving conformance fixtures at http://%s/mcp", ln.Addr())
	if err := hs.Serve(ln); err != http.ErrServerClosed {
		require.NoError(t, err)
	}
}
