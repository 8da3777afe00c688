package handlers_test

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizmcp/bizmcp/internal/testkit"
)

// With an LLM, an agent may let the model choose its tools: the model asks
// for sales_forecaster, the tool runs (recorded with the task), the model
// sees the figures and answers.
func TestAgentToolCallingLoop(t *testing.T) {
	t.Parallel()
	var turn atomic.Int32
	fake := testkit.StartFakeLLM(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if turn.Add(1) == 1 {
			_ = json.NewEncoder(w).Encode(map[string]any{
				"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
				"choices": []map[string]any{{"index": 0, "finish_reason": "tool_calls", "message": map[string]any{
					"role": "assistant", "content": "",
					"tool_calls": []map[string]any{{"id": "call_1", "type": "function", "function": map[string]any{
						"name": "sales_forecaster", "arguments": `{"series":[10,12,14,16],"horizon":1}`}}},
				}}},
				"usage": map[string]any{"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
			})
			return
		}
		testkit.ChatReply("gpt-4o-mini", "Next period: 18.", 200, 10)(w, r)
	})
	srv := testkit.StartServer(t, withFakeLLM(fake))
	id := postTask(t, srv, `{"title":"Plan stock","domain":"sales","input_data":{"prompt":"How many units next month?","use_tools":true}}`)
	task := waitTask(t, srv, id, "completed", "failed")
	require.Equal(t, "completed", task.Status, "error: %v", task.Error)
	var out struct {
		Answer    string `json:"answer"`
		Steps     int    `json:"steps"`
		ToolCalls []struct {
			Tool   string `json:"tool"`
			Status string `json:"status"`
		} `json:"tool_calls"`
		TokensUsed int64 `json:"tokens_used"`
	}
	require.NoError(t, json.Unmarshal(task.OutputData, &out))
	require.Equal(t, "Next period: 18.", out.Answer)
	require.Equal(t, 2, out.Steps)
	require.Len(t, out.ToolCalls, 1)
	require.Equal(t, "sales_forecaster", out.ToolCalls[0].Tool)
	require.Equal(t, "completed", out.ToolCalls[0].Status)
	require.EqualValues(t, 330, out.TokensUsed)

	// The model was offered the sales agent's tools, not llm_processor, and
	// saw the forecast (18 for y = 2t + 10 at t = 4) in the tool message.
	reqs := fake.Requests()
	require.Len(t, reqs, 2)
	var offered []string
	for _, tool := range reqs[0]["tools"].([]any) {
		offered = append(offered, tool.(map[string]any)["function"].(map[string]any)["name"].(string))
	}
	require.ElementsMatch(t, []string{"sales_forecaster", "report_generator"}, offered)
	msgs := reqs[1]["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)
	require.Equal(t, "tool", last["role"])
	require.Contains(t, last["content"], `"value":18`)

	got := getTask(t, srv, id)
	var tokens struct {
		TokensUsed int64 `json:"tokens_used"`
	}
	resp, b := srv.Do(t, http.MethodGet, "/api/v1/resources/tasks/"+got.ID, srv.AdminKey, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.Unmarshal(b, &tokens))
	require.EqualValues(t, 330, tokens.TokensUsed, "the loop's tokens are on the task")
}
