package conformance_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/mcphttp"
	"github.com/bizmcp/bizmcp/internal/mcptasks"
)

// rpc posts one 2026-07-28 request declaring the Tasks extension and returns
// the answer's result (the last SSE message, or the JSON body).
func rpc(t *testing.T, url, method, name string, params map[string]any) map[string]any {
	t.Helper()
	params["_meta"] = map[string]any{"io.modelcontextprotocol/protocolVersion": mcphttp.Stateless,
		"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": map[string]any{mcptasks.ExtensionID: map[string]any{}}}}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(string(body)))
	require.NoError(t, err)
	setHeaders(req, method, name)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var last string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			last = d
		} else if strings.HasPrefix(sc.Text(), "{") {
			last = sc.Text()
		}
	}
	var msg struct {
		Result map[string]any `json:"result"`
		Error  map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(last), &msg), last)
	require.Nil(t, msg.Error)
	return msg.Result
}

func setHeaders(req *http.Request, method, name string) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", mcphttp.Stateless)
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
}

// A listen that asks for task notifications and for tool list changes gets
// both on one stream: the SDK's acknowledgement gains the agreed taskIds,
// the task's states (input_required with its questions, then completed with
// its result) arrive as notifications/tasks, and the SDK's list change
// arrives between them, every message whole.
func TestListenCarriesTaskNotificationsBesideListChanges(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	created := rpc(t, url, "tools/call", "confirm_delete", map[string]any{"name": "confirm_delete", "arguments": map[string]any{"filename": "q3.csv"}})
	id := created["taskId"].(string)
	require.NotEmpty(t, id)

	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 42, "method": "subscriptions/listen", "params": map[string]any{
		"notifications": map[string]any{"taskIds": []string{id}, "toolsListChanged": true},
		"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": mcphttp.Stateless,
			"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": map[string]any{mcptasks.ExtensionID: map[string]any{}}}},
	}})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(string(body)))
	require.NoError(t, err)
	setHeaders(req, "subscriptions/listen", "")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	msgs := make(chan map[string]any, 16)
	go func() {
		defer close(msgs)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m map[string]any
				if json.Unmarshal([]byte(d), &m) == nil {
					msgs <- m
				}
			}
		}
	}()
	next := func() map[string]any {
		t.Helper()
		select {
		case m, ok := <-msgs:
			require.True(t, ok, "the stream ended")
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("no message within 10s")
			return nil
		}
	}

	ack := next()
	require.Equal(t, "notifications/subscriptions/acknowledged", ack["method"])
	agreed := ack["params"].(map[string]any)["notifications"].(map[string]any)
	require.Equal(t, true, agreed["toolsListChanged"], "the SDK's part")
	require.Equal(t, []any{id}, agreed["taskIds"], "the extension's part")

	var task map[string]any
	for task == nil || task["status"] != "input_required" {
		m := next()
		require.Equal(t, mcptasks.MethodNotifyTask, m["method"])
		task = m["params"].(map[string]any)
	}
	require.Contains(t, task["inputRequests"], "confirm")
	require.EqualValues(t, 42, task["_meta"].(map[string]any)["io.modelcontextprotocol/subscriptionId"])

	// The SDK's own notification on the same stream.
	rpc(t, url, "tools/call", "test_trigger_tool_change", map[string]any{"name": "test_trigger_tool_change", "arguments": map[string]any{}})
	ack2 := rpc(t, url, "tasks/update", id, map[string]any{"taskId": id, "inputResponses": map[string]any{
		"confirm": map[string]any{"action": "accept", "content": map[string]any{"confirm": true}}}})
	require.Equal(t, "complete", ack2["resultType"])

	var listChanged bool
	for task["status"] != "completed" {
		m := next()
		switch m["method"] {
		case "notifications/tools/list_changed":
			listChanged = true
		case mcptasks.MethodNotifyTask:
			task = m["params"].(map[string]any)
		}
	}
	require.Contains(t, task["result"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"], `deleted "q3.csv"`)
	for !listChanged {
		m := next()
		listChanged = m["method"] == "notifications/tools/list_changed"
	}
}

// A caller holds at most MaxListensPerKey task listens at once: the next is
// refused with a message saying what to do, and a place freed by a client
// that went away is free again.
func TestTaskListensPerCallerAreBounded(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	created := rpc(t, url, "tools/call", "slow_compute", map[string]any{"name": "slow_compute", "arguments": map[string]any{"seconds": 60}})
	id := created["taskId"].(string)

	// open starts a listen and returns its first message and a way to close it.
	open := func() (map[string]any, func()) {
		ctx, cancel := context.WithCancel(t.Context())
		body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": map[string]any{
			"notifications": map[string]any{"taskIds": []string{id}},
			"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": mcphttp.Stateless,
				"io.modelcontextprotocol/clientCapabilities": map[string]any{"extensions": map[string]any{mcptasks.ExtensionID: map[string]any{}}}},
		}})
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
		require.NoError(t, err)
		setHeaders(req, "subscriptions/listen", "")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		sc := bufio.NewScanner(resp.Body)
		var first map[string]any
		for first == nil && sc.Scan() {
			line, _ := strings.CutPrefix(sc.Text(), "data: ")
			_ = json.Unmarshal([]byte(line), &first)
		}
		return first, func() { cancel(); _ = resp.Body.Close() }
	}
	var closers []func()
	t.Cleanup(func() {
		for _, c := range closers {
			c()
		}
	})
	for range mcptasks.MaxListensPerKey {
		first, closeIt := open()
		closers = append(closers, closeIt)
		require.Equal(t, "notifications/subscriptions/acknowledged", first["method"], first)
	}
	refused, closeIt := open()
	closeIt()
	require.Contains(t, refused["error"].(map[string]any)["message"], "at most 16 task listens at once")

	closers[0]()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		first, closeIt := open()
		defer closeIt()
		assert.Equal(c, "notifications/subscriptions/acknowledged", first["method"], "a freed place is free again")
	}, 10*time.Second, 50*time.Millisecond)
}
