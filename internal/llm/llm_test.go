package llm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/apperr"
	"github.com/bizmcp/bizmcp/internal/config"
	"github.com/bizmcp/bizmcp/internal/llm"
)

const (
	openAIKey    = "sk-test-openai-0123456789"
	evolutionKey = "evo-test-key-9876543210"
)

// recorded is one request the fake provider received.
type recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   map[string]any
}

// fakeProvider is a real HTTP server speaking the OpenAI chat completions
// wire format: an LLM provider is a boundary the tests cannot run.
type fakeProvider struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

// newFake starts a fake whose reply gets the 1-based attempt number.
func newFake(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *fakeProvider {
	t.Helper()
	f := &fakeProvider{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(f.reqs)
		f.mu.Unlock()
		reply(n, w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeProvider) request(t *testing.T, i int) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Greater(t, len(f.reqs), i, "the fake received %d requests", len(f.reqs))
	return f.reqs[i]
}

// baseURL is the fake's URL with the /v1 prefix real providers use.
func (f *fakeProvider) baseURL() string { return f.srv.URL + "/v1" }

// completion is a chat completion body with one choice.
func completion(model, content string, prompt, completionTokens int) string {
	return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":%q,
"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],
"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`, model, content, prompt, completionTokens, prompt+completionTokens)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func reply(status int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { writeJSON(w, status, body) }
}

// fastOptions keep retries quick: the tests count attempts, not seconds.
func fastOptions(extra ...llm.Option) []llm.Option {
	return append([]llm.Option{llm.WithBackoff(time.Millisecond, 5*time.Millisecond), llm.WithTimeout(5 * time.Second)}, extra...)
}

// openAIRouter is an "openai" provider with a key, pointed at the fake.
func openAIRouter(f *fakeProvider, opts ...llm.Option) *llm.Router {
	return llm.New(config.LLM{OpenAIAPIKey: openAIKey, OpenAIBaseURL: f.baseURL(), MaxTokens: 256, Temperature: 0.2}, fastOptions(opts...)...)
}

func hello() llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "Be brief."}, {Role: llm.RoleUser, Content: "Hello"}}}
}

// requireCode asserts the apperr code and that no credential leaked.
func requireCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, apperr.CodeOf(err), "error: %v", err)
	for _, key := range []string{openAIKey, evolutionKey} {
		require.NotContains(t, err.Error(), key)
		require.NotContains(t, apperr.MessageOf(err), key)
	}
}

func TestCompleteReturnsContentUsageAndCost(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(200, completion("gpt-4o-mini-2024-07-18", "Hi there", 1200, 300)))
	r := openAIRouter(f)

	resp, err := r.Complete(t.Context(), hello())
	require.NoError(t, err)
	require.Equal(t, "Hi there", resp.Content)
	require.Equal(t, "stop", resp.FinishReason)
	require.Equal(t, "openai", resp.Provider)
	require.Equal(t, "gpt-4o-mini-2024-07-18", resp.Model)
	require.EqualValues(t, 1200, resp.PromptTokens)
	require.EqualValues(t, 300, resp.CompletionTokens)
	require.EqualValues(t, 1500, resp.TotalTokens)
	// gpt-4o-mini: 1200 × 0.15/1M + 300 × 0.60/1M = 0.00018 + 0.00018 = 0.00036 USD.
	require.True(t, resp.CostKnown)
	require.InDelta(t, 0.00036, resp.Cost, 1e-12)
	require.Equal(t, 1, resp.Attempts)
	require.Positive(t, resp.Duration)
	require.Empty(t, resp.ToolCalls)

	got := f.request(t, 0)
	require.Equal(t, http.MethodPost, got.Method)
	require.Equal(t, "/v1/chat/completions", got.Path)
	require.Equal(t, "Bearer "+openAIKey, got.Header.Get("Authorization"))
	require.Equal(t, "gpt-4o-mini", got.Body["model"], "LLM_MODEL unset: the provider default")
	require.EqualValues(t, 256, got.Body["max_tokens"], "a compatible endpoint gets max_tokens")
	require.NotContains(t, got.Body, "max_completion_tokens")
	require.InDelta(t, 0.2, got.Body["temperature"], 1e-9)
	require.Equal(t, []any{
		map[string]any{"role": "system", "content": "Be brief."},
		map[string]any{"role": "user", "content": "Hello"},
	}, got.Body["messages"])
	require.NotContains(t, got.Body, "tools")
}

func TestCompleteRequestOverridesModelTokensAndTemperature(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(200, completion("gpt-4o", "ok", 10, 2)))
	r := openAIRouter(f)

	zero := 0.0
	req := hello()
	req.Model, req.MaxTokens, req.Temperature = "gpt-4o", 42, &zero
	resp, err := r.Complete(t.Context(), req)
	require.NoError(t, err)
	// gpt-4o: 10 × 2.50/1M + 2 × 10.00/1M = 0.000025 + 0.00002 = 0.000045 USD.
	require.InDelta(t, 0.000045, resp.Cost, 1e-12)

	got := f.request(t, 0)
	require.Equal(t, "gpt-4o", got.Body["model"])
	require.EqualValues(t, 42, got.Body["max_tokens"])
	require.Contains(t, got.Body, "temperature", "an explicit 0 is sent, not dropped")
	require.InDelta(t, 0.0, got.Body["temperature"], 1e-9)
}

func TestCompleteSendsToolsAndReturnsToolCalls(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			writeJSON(w, 200, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-mini",
"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[
 {"id":"call_1","type":"function","function":{"name":"get_revenue","arguments":"{\"month\":\"2025-01\"}"}},
 {"id":"call_2","type":"function","function":{"name":"get_revenue","arguments":"not json"}}]}}],
"usage":{"prompt_tokens":50,"completion_tokens":20,"total_tokens":70}}`)
			return
		}
		writeJSON(w, 200, completion("gpt-4o-mini", "Revenue was 10.", 80, 5))
	})
	r := openAIRouter(f)

	schema := json.RawMessage(`{"type":"object","properties":{"month":{"type":"string"}},"required":["month"]}`)
	req := hello()
	req.Tools = []llm.Tool{
		{Name: "get_revenue", Description: "Revenue of a month", Parameters: schema},
		{Name: "ping"},
	}
	req.ToolChoice = "get_revenue"
	resp, err := r.Complete(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, "tool_calls", resp.FinishReason)
	require.Empty(t, resp.Content)
	require.Len(t, resp.ToolCalls, 2)
	require.Equal(t, "call_1", resp.ToolCalls[0].ID)
	require.Equal(t, "get_revenue", resp.ToolCalls[0].Name)
	require.JSONEq(t, `{"month":"2025-01"}`, string(resp.ToolCalls[0].Arguments))
	require.JSONEq(t, `"not json"`, string(resp.ToolCalls[1].Arguments), "invalid arguments stay valid JSON, as a string")

	body := f.request(t, 0).Body
	require.Equal(t, []any{
		map[string]any{"type": "function", "function": map[string]any{
			"name": "get_revenue", "description": "Revenue of a month",
			"parameters": map[string]any{"type": "object", "properties": map[string]any{"month": map[string]any{"type": "string"}}, "required": []any{"month"}},
		}},
		map[string]any{"type": "function", "function": map[string]any{
			"name": "ping", "parameters": map[string]any{"type": "object", "properties": map[string]any{}},
		}},
	}, body["tools"])
	require.Equal(t, map[string]any{"type": "function", "function": map[string]any{"name": "get_revenue"}}, body["tool_choice"])

	// The loop's next turn sends the calls and their results back.
	req.ToolChoice = "auto"
	req.Messages = append(req.Messages,
		llm.Message{Role: llm.RoleAssistant, ToolCalls: resp.ToolCalls[:1]},
		llm.Message{Role: llm.RoleTool, ToolCallID: "call_1", Content: `{"revenue":10}`},
	)
	resp, err = r.Complete(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, "Revenue was 10.", resp.Content)

	body = f.request(t, 1).Body
	require.Equal(t, "auto", body["tool_choice"])
	msgs := body["messages"].([]any)
	require.Len(t, msgs, 4)
	require.Equal(t, map[string]any{"role": "assistant", "tool_calls": []any{
		map[string]any{"id": "call_1", "type": "function", "function": map[string]any{"name": "get_revenue", "arguments": `{"month":"2025-01"}`}},
	}}, msgs[2])
	require.Equal(t, map[string]any{"role": "tool", "tool_call_id": "call_1", "content": `{"revenue":10}`}, msgs[3])
}

func TestCompleteRetriesRateLimitHonouringRetryAfter(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
			return
		}
		writeJSON(w, 200, completion("gpt-4o-mini", "after the wait", 1, 1))
	})
	r := openAIRouter(f) // backoff is 1-5 ms: only Retry-After explains a 1 s wait

	start := time.Now()
	resp, err := r.Complete(t.Context(), hello())
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), time.Second, "Retry-After: 1 was honoured")
	require.Equal(t, "after the wait", resp.Content)
	require.Equal(t, 2, resp.Attempts)
	require.Equal(t, 2, f.attempts())
}

func TestCompleteRetryAfterMillisecondsHeader(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After-Ms", "300")
			writeJSON(w, 429, `{"error":{"message":"slow down"}}`)
			return
		}
		writeJSON(w, 200, completion("gpt-4o-mini", "ok", 1, 1))
	})
	start := time.Now()
	_, err := openAIRouter(f).Complete(t.Context(), hello())
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.Equal(t, 2, f.attempts())
}

func TestCompleteRetryAfterBeyondCapFailsAtOnce(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, 429, `{"error":{"message":"come back in an hour"}}`)
	})
	start := time.Now()
	_, err := openAIRouter(f, llm.WithMaxRetryAfter(time.Second)).Complete(t.Context(), hello())
	requireCode(t, err, apperr.RateLimited)
	require.Contains(t, apperr.MessageOf(err), "asks to wait 1h0m0s")
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, 1, f.attempts())
}

func TestCompleteRateLimitedAfterAttempts(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(429, `{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}`))
	_, err := openAIRouter(f, llm.WithMaxAttempts(3)).Complete(t.Context(), hello())
	requireCode(t, err, apperr.RateLimited)
	require.Equal(t, "LLM provider openai is rate limiting requests (HTTP 429) after 3 attempts; retry later", apperr.MessageOf(err))
	require.Equal(t, 3, f.attempts())
}

func TestCompleteQuotaExhaustedIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(429, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`))
	_, err := openAIRouter(f).Complete(t.Context(), hello())
	requireCode(t, err, apperr.Unavailable)
	require.Contains(t, apperr.MessageOf(err), "quota is exhausted")
	require.Equal(t, 1, f.attempts())
}

func TestCompleteServerErrorsExhaustAttempts(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		// A proxy's HTML error page, not a JSON error: the status decides.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "<html>oops</html>")
	})
	_, err := openAIRouter(f, llm.WithMaxAttempts(4)).Complete(t.Context(), hello())
	requireCode(t, err, apperr.Unavailable)
	require.Equal(t, "LLM provider openai failed with HTTP 500 after 4 attempts", apperr.MessageOf(err))
	require.Equal(t, 4, f.attempts())
}

func TestCompleteRecoversAfterServerError(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 3 {
			writeJSON(w, 503, `{"error":{"message":"overloaded"}}`)
			return
		}
		writeJSON(w, 200, completion("gpt-4o-mini", "back", 1, 1))
	})
	resp, err := openAIRouter(f).Complete(t.Context(), hello())
	require.NoError(t, err)
	require.Equal(t, "back", resp.Content)
	require.Equal(t, 3, resp.Attempts)
}

func TestCompleteDoesNotRetryClientErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status  int
		body    string
		code    apperr.Code
		message string
	}{
		// OpenAI echoes part of a wrong key; here the whole key, to prove it never reaches the message.
		{401, `{"error":{"message":"Incorrect API key provided: ` + openAIKey + `","code":"invalid_api_key"}}`, apperr.Unavailable, "LLM provider openai rejected the API key (HTTP 401): check the key the operator configured"},
		{403, `{"error":{"message":"forbidden"}}`, apperr.Unavailable, "LLM provider openai rejected the API key (HTTP 403): check the key the operator configured"},
		{400, `{"error":{"message":"Invalid schema for function 'x'"}}`, apperr.Invalid, "LLM provider openai refused the request (HTTP 400): Invalid schema for function 'x'"},
		{404, `{"error":{"message":"The model 'gpt-9' does not exist"}}`, apperr.Invalid, "LLM provider openai refused the request (HTTP 404): The model 'gpt-9' does not exist"},
		{413, `{}`, apperr.TooLarge, "LLM provider openai refused the request as too large (HTTP 413)"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			f := newFake(t, reply(tc.status, tc.body))
			_, err := openAIRouter(f).Complete(t.Context(), hello())
			requireCode(t, err, tc.code)
			require.Equal(t, tc.message, apperr.MessageOf(err))
			require.Equal(t, 1, f.attempts(), "HTTP %d is not retried", tc.status)
		})
	}
}

func TestCompleteTimesOut(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		writeJSON(w, 200, completion("gpt-4o-mini", "too late", 1, 1))
	})
	r := openAIRouter(f, llm.WithTimeout(100*time.Millisecond))

	start := time.Now()
	_, err := r.Complete(t.Context(), hello())
	requireCode(t, err, apperr.Unavailable)
	require.Equal(t, "LLM provider openai did not answer within 100ms", apperr.MessageOf(err))
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, 1, f.attempts(), "a timed-out attempt is not retried")
}

func TestCompleteInvalidResponses(t *testing.T) {
	t.Parallel()
	for name, send := range map[string]func(http.ResponseWriter){
		"html page": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>captive portal</html>")
		},
		"broken json": func(w http.ResponseWriter) { writeJSON(w, 200, `{"choices":[{"message":`) },
		"empty choices": func(w http.ResponseWriter) {
			writeJSON(w, 200, `{"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[]}`)
		},
		"not a completion": func(w http.ResponseWriter) {
			writeJSON(w, 200, `{"hello":"world"}`)
		},
		"empty body": func(w http.ResponseWriter) { writeJSON(w, 200, ``) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { send(w) })
			_, err := openAIRouter(f).Complete(t.Context(), hello())
			requireCode(t, err, apperr.Unavailable)
			require.True(t, strings.HasPrefix(apperr.MessageOf(err), "LLM provider returned an invalid response"), apperr.MessageOf(err))
			require.Equal(t, 1, f.attempts())
		})
	}
}

func TestCompleteCancelled(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	r := openAIRouter(f)

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.Complete(ctx, hello())
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), 2*time.Second)

	// Cancelled during the wait between retries.
	g := newFake(t, reply(503, `{}`))
	slow := openAIRouter(g, llm.WithBackoff(10*time.Second, 10*time.Second))
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	_, err = slow.Complete(ctx, hello())
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, 1, g.attempts())

	// Already cancelled: the context's error, whatever the provider does.
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	_, err = r.Complete(ctx, hello())
	require.ErrorIs(t, err, context.Canceled)
}

func TestCompleteConnectionRefusedIsRetried(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL + "/v1"
	srv.Close() // nothing listens there any more

	r := llm.New(config.LLM{OpenAIAPIKey: openAIKey, OpenAIBaseURL: dead}, fastOptions(llm.WithMaxAttempts(2))...)
	_, err := r.Complete(t.Context(), hello())
	requireCode(t, err, apperr.Unavailable)
	require.Equal(t, "could not reach LLM provider openai at "+dead+" after 2 attempts", apperr.MessageOf(err))
}

func TestCompleteWithoutProvider(t *testing.T) {
	t.Parallel()
	r := llm.New(config.LLM{MaxTokens: 100, Model: "gpt-4o"})
	require.Empty(t, r.Available())
	_, ok := r.Default()
	require.False(t, ok)

	_, err := r.Complete(t.Context(), hello())
	require.True(t, llm.IsNoProvider(err))
	require.ErrorIs(t, err, llm.ErrNoProvider)
	requireCode(t, err, apperr.Unavailable)
	require.Equal(t, "no LLM provider configured: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server) or EVOLUTION_API_KEY", apperr.MessageOf(err))

	require.False(t, llm.IsNoProvider(apperr.E(apperr.Unavailable, "other")))
	require.False(t, llm.IsNoProvider(nil))
}

func TestCompleteUnknownProvider(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(200, completion("gpt-4o-mini", "unused", 1, 1)))
	r := openAIRouter(f)

	req := hello()
	req.Provider = "anthropic"
	_, err := r.Complete(t.Context(), req)
	requireCode(t, err, apperr.Invalid)
	require.Equal(t, `unknown LLM provider "anthropic": configured providers: openai`, apperr.MessageOf(err))
	require.False(t, llm.IsNoProvider(err))

	req.Provider = "evolution"
	_, err = r.Complete(t.Context(), req)
	requireCode(t, err, apperr.Invalid)
	require.Equal(t, `LLM provider "evolution" is not configured (set EVOLUTION_API_KEY); configured providers: openai`, apperr.MessageOf(err))
	require.Zero(t, f.attempts())
}

func TestCompleteValidatesRequest(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(200, completion("gpt-4o-mini", "unused", 1, 1)))
	r := openAIRouter(f)
	tooHot := 2.5

	for name, tc := range map[string]struct {
		req     llm.Request
		message string
	}{
		"no messages":       {llm.Request{}, "a completion needs at least one message"},
		"unknown role":      {llm.Request{Messages: []llm.Message{{Role: "robot", Content: "x"}}}, `message 0 has role "robot": allowed roles are system, user, assistant, tool`},
		"tool without id":   {llm.Request{Messages: []llm.Message{{Role: llm.RoleTool, Content: "x"}}}, "message 0 has role tool but no tool call id"},
		"negative tokens":   {llm.Request{Messages: hello().Messages, MaxTokens: -1}, "max tokens -1 must not be negative"},
		"temperature":       {llm.Request{Messages: hello().Messages, Temperature: &tooHot}, "temperature 2.5 must be from 0 to 2"},
		"bad tool name":     {llm.Request{Messages: hello().Messages, Tools: []llm.Tool{{Name: "get revenue"}}}, `tool name "get revenue" must be 1 to 64 letters, digits, underscores or dashes`},
		"duplicate tool":    {llm.Request{Messages: hello().Messages, Tools: []llm.Tool{{Name: "a"}, {Name: "a"}}}, `tool "a" is listed twice`},
		"schema not object": {llm.Request{Messages: hello().Messages, Tools: []llm.Tool{{Name: "a", Parameters: json.RawMessage(`[1]`)}}}, `tool "a" parameters must be a JSON Schema object`},
		"choice no tools":   {llm.Request{Messages: hello().Messages, ToolChoice: "auto"}, `tool choice "auto" given without tools`},
		"choice unknown":    {llm.Request{Messages: hello().Messages, Tools: []llm.Tool{{Name: "a"}}, ToolChoice: "b"}, `tool choice "b" is not auto, none, required or the name of a given tool`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := r.Complete(t.Context(), tc.req)
			requireCode(t, err, apperr.Invalid)
			require.Equal(t, tc.message, apperr.MessageOf(err))
		})
	}
	t.Cleanup(func() { require.Zero(t, f.attempts(), "invalid requests never reach the provider") })
}

func TestAvailableAndDefault(t *testing.T) {
	t.Parallel()
	r := llm.New(config.LLM{
		OpenAIAPIKey:     openAIKey,
		EvolutionAPIKey:  evolutionKey,
		EvolutionBaseURL: "https://user:pw@evolution.example/v1",
		DefaultProvider:  "evolution",
		Model:            "zai-org/GLM-4.6",
	})
	name, ok := r.Default()
	require.True(t, ok)
	require.Equal(t, "evolution", name)
	require.Equal(t, []llm.ProviderInfo{
		{Name: "openai", BaseURL: "https://api.openai.com/v1", DefaultModel: "gpt-4o-mini", Auth: llm.AuthAPIKey},
		// LLM_MODEL belongs to the default provider only.
		{Name: "evolution", BaseURL: "https://user:xxxxx@evolution.example/v1", DefaultModel: "zai-org/GLM-4.6", Auth: llm.AuthAPIKey},
	}, r.Available())
	printed := fmt.Sprintf("%+v %#v", r.Available(), r.Available())
	require.NotContains(t, printed, openAIKey)
	require.NotContains(t, printed, evolutionKey)

	// Without DEFAULT_LLM_PROVIDER the first configured one is the default.
	name, ok = llm.New(config.LLM{EvolutionAPIKey: evolutionKey}).Default()
	require.True(t, ok)
	require.Equal(t, "evolution", name)
	name, _ = llm.New(config.LLM{OpenAIAPIKey: openAIKey, EvolutionAPIKey: evolutionKey}).Default()
	require.Equal(t, "openai", name)
	// An evolution provider without EVOLUTION_BASE_URL uses Cloud.ru's.
	require.Equal(t, config.DefaultEvolutionBaseURL, llm.New(config.LLM{EvolutionAPIKey: evolutionKey}).Available()[0].BaseURL)
}

func TestEvolutionProvider(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(200, completion("zai-org/GLM-4.7", "Привет", 30, 10)))
	r := llm.New(config.LLM{
		OpenAIAPIKey:     openAIKey,
		EvolutionAPIKey:  evolutionKey,
		EvolutionBaseURL: f.baseURL(),
		MaxTokens:        512,
		Temperature:      0.5,
	}, fastOptions()...)

	req := hello()
	req.Provider = "evolution"
	resp, err := r.Complete(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, "Привет", resp.Content)
	require.Equal(t, "evolution", resp.Provider)
	require.False(t, resp.CostKnown, "no default price for Cloud.ru models")
	require.Zero(t, resp.Cost)

	got := f.request(t, 0)
	require.Equal(t, "/v1/chat/completions", got.Path)
	require.Equal(t, "Bearer "+evolutionKey, got.Header.Get("Authorization"))
	require.Equal(t, "zai-org/GLM-4.7", got.Body["model"])
	require.EqualValues(t, 512, got.Body["max_tokens"])
	require.Empty(t, got.Header.Get("OpenAI-Organization"))

	// An operator-supplied price makes the cost known:
	// 30 × 0.5/1M + 10 × 2/1M = 0.000015 + 0.00002 = 0.000035 USD.
	prices, err := llm.ParsePrices("zai-org/GLM-4.7=0.5/2")
	require.NoError(t, err)
	priced := llm.New(config.LLM{EvolutionAPIKey: evolutionKey, EvolutionBaseURL: f.baseURL()}, fastOptions(llm.WithPrices(prices))...)
	resp, err = priced.Complete(t.Context(), hello())
	require.NoError(t, err)
	require.True(t, resp.CostKnown)
	require.InDelta(t, 0.000035, resp.Cost, 1e-12)
}

func TestLocalServerWithoutKey(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(200, completion("llama3.2", "local answer", 5, 5)))

	keyless := llm.New(config.LLM{OpenAIBaseURL: f.baseURL()}, fastOptions()...)
	require.Equal(t, []llm.ProviderInfo{{Name: "openai", BaseURL: f.baseURL(), Auth: llm.AuthNone}}, keyless.Available())
	_, err := keyless.Complete(t.Context(), hello())
	requireCode(t, err, apperr.Invalid)
	require.Contains(t, apperr.MessageOf(err), "set LLM_MODEL or name the model in the request")
	require.Zero(t, f.attempts())

	r := llm.New(config.LLM{OpenAIBaseURL: f.baseURL(), Model: "llama3.2"}, fastOptions()...)
	resp, err := r.Complete(t.Context(), hello())
	require.NoError(t, err)
	require.Equal(t, "local answer", resp.Content)
	require.False(t, resp.CostKnown)
	got := f.request(t, 0)
	require.Empty(t, got.Header.Get("Authorization"), "no key, no Authorization header")
	require.Equal(t, "llama3.2", got.Body["model"])
}

// rewriteTransport sends every request to target, remembering the URL the
// SDK meant to call, so the default OpenAI endpoint is tested without it.
type rewriteTransport struct{ target *url.URL }

func (rt rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Header.Set("X-Original-URL", req.URL.String())
	out.URL.Scheme, out.URL.Host, out.Host = rt.target.Scheme, rt.target.Host, ""
	return http.DefaultTransport.RoundTrip(out)
}

func TestOpenAIDefaultEndpoint(t *testing.T) {
	t.Parallel()
	f := newFake(t, reply(200, completion("gpt-4o-mini", "ok", 1, 1)))
	target, err := url.Parse(f.srv.URL)
	require.NoError(t, err)
	r := llm.New(config.LLM{OpenAIAPIKey: openAIKey, MaxTokens: 100},
		fastOptions(llm.WithHTTPClient(&http.Client{Transport: rewriteTransport{target}}))...)

	_, err = r.Complete(t.Context(), hello())
	require.NoError(t, err)
	got := f.request(t, 0)
	require.Equal(t, "https://api.openai.com/v1/chat/completions", got.Header.Get("X-Original-URL"))
	require.EqualValues(t, 100, got.Body["max_completion_tokens"], "OpenAI itself gets max_completion_tokens")
	require.NotContains(t, got.Body, "max_tokens")
}

func TestRouterIgnoresProcessEnvironment(t *testing.T) {
	// Not parallel: t.Setenv. The SDK's NewClient would read these.
	t.Setenv("OPENAI_API_KEY", "sk-from-environment")
	t.Setenv("OPENAI_ORG_ID", "org-from-environment")
	t.Setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
	f := newFake(t, reply(200, completion("llama3.2", "ok", 1, 1)))

	r := llm.New(config.LLM{OpenAIBaseURL: f.baseURL(), Model: "llama3.2"}, fastOptions()...)
	_, err := r.Complete(t.Context(), hello())
	require.NoError(t, err)
	got := f.request(t, 0)
	require.Empty(t, got.Header.Get("Authorization"))
	require.Empty(t, got.Header.Get("OpenAI-Organization"))
}

func TestConcurrentCompletions(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n%3 == 0 {
			writeJSON(w, 503, `{}`)
			return
		}
		writeJSON(w, 200, completion("gpt-4o-mini", "ok", 1, 1))
	})
	r := openAIRouter(f, llm.WithMaxAttempts(5))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := r.Complete(t.Context(), hello())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
