package testkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// FakeLLM is an OpenAI-compatible chat completions server for tests: an LLM
// provider is a boundary these tests cannot run for real. It records the
// requests it receives and answers with the reply handler.
type FakeLLM struct {
	URL string

	mu       sync.Mutex
	requests []map[string]any
	reply    http.HandlerFunc
}

// StartFakeLLM starts a fake provider answering with reply (see ChatReply).
func StartFakeLLM(t testing.TB, reply http.HandlerFunc) *FakeLLM {
	t.Helper()
	f := &FakeLLM{reply: reply}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		_ = json.Unmarshal(body, &req)
		f.mu.Lock()
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		// The reply may read the body too (to answer by what was asked).
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.reply(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL + "/v1"
	return f
}

// Requests returns the decoded request bodies received so far.
func (f *FakeLLM) Requests() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.requests...)
}

// ChatReply answers every request with content and the given token usage,
// in the chat.completion wire format.
func ChatReply(model, content string, promptTokens, completionTokens int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": model,
			"choices": []map[string]any{{
				"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": content},
			}},
			"usage": map[string]any{"prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens},
		})
	}
}
